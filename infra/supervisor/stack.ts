import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { join, relative } from 'node:path';
import { type Config, paths, projectRoot } from '../../common/config.js';
import { ensureCredentials } from '../../common/credentials.js';
import { linesOfFleet } from '../../common/fleet-lines.js';
import { ensureDebianPackages } from '../install/debian.js';
import { ensureKafka, kafkaLibDir } from '../install/kafka.js';
import { ensureTemporal, temporalBinary } from '../install/temporal.js';
import type { Component, ComponentContext } from '../servers/component.js';
import { influxdb } from '../servers/influxdb.js';
import { kafka } from '../servers/kafka.js';
import { mosquitto } from '../servers/mosquitto.js';
import { nats } from '../servers/nats.js';
import { temporal } from '../servers/temporal.js';
import { type Output, seconds, table } from './output.js';
import { isPortFree, listenerOf } from './ports.js';
import {
  isAlive,
  type PidRecord,
  readPidFile,
  removePidFile,
  startDetached,
  stopProcess,
  waitFor,
} from './process.js';

export const defaultFleetFile = join(projectRoot, 'actors', 'fleets', 'default.yaml');

export function components(config: Config): Component[] {
  const ctx: ComponentContext = {
    config,
    tools: { kafkaLib: kafkaLibDir(config.cacheDir), temporal: temporalBinary(config.cacheDir) },
  };
  return [mosquitto(ctx), nats(ctx), kafka(ctx), influxdb(ctx), temporal(ctx)];
}

/** A failure the operator can act on; printed as one sentence, exit code 1. */
export class StackError extends Error {}

export interface ComponentStatus {
  name: string;
  pid: number | null;
  address: string;
  healthy: boolean;
  detail: string;
  log: string;
}

const errorText = (err: unknown) => (err instanceof Error ? err.message : String(err));

function running(config: Config, c: Component): PidRecord | undefined {
  const record = readPidFile(paths(config).pid(c.name));
  return record && isAlive(record) ? record : undefined;
}

async function probe(config: Config, c: Component): Promise<ComponentStatus> {
  const record = running(config, c);
  const base = { name: c.name, pid: record?.pid ?? null, address: c.address, log: paths(config).log(c.name) };
  if (!record) return { ...base, healthy: false, detail: 'not running' };
  try {
    return { ...base, healthy: true, detail: await c.health() };
  } catch (err) {
    return { ...base, healthy: false, detail: errorText(err) };
  }
}

export const status = (config: Config) => Promise.all(components(config).map((c) => probe(config, c)));

/** Paths under the working directory are shown relative: shorter, and copy-pasteable. */
const shown = (p: string) => {
  const r = relative(process.cwd(), p);
  return r && !r.startsWith('..') ? r : p;
};

export function renderStatus(config: Config, rows: ComponentStatus[]): string {
  const body = table([
    ['COMPONENT', 'PID', 'ADDRESS', 'HEALTH', 'LOG'],
    ...rows.map((r) => [
      r.name,
      r.pid ? String(r.pid) : '-',
      r.address,
      r.healthy ? 'healthy' : 'UNHEALTHY',
      shown(r.log),
    ]),
  ]);
  const problems = rows.filter((r) => !r.healthy).map((r) => `  ${r.name}: ${r.detail}`);
  return [
    body,
    ...(problems.length ? ['', 'Problems:', ...problems] : []),
    '',
    `Credentials: ${shown(paths(config).credentials)}`,
    `Data and logs: ${shown(config.dataDir)}`,
  ].join('\n');
}

/** One `factory up` at a time per data directory. */
function lock(config: Config): () => void {
  const file = join(paths(config).run, 'up.lock');
  mkdirSync(paths(config).run, { recursive: true });
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => rmSync(file, { force: true });
    } catch {
      const holder = Number(readFileSync(file, 'utf8'));
      if (holder && holder !== process.pid && existsSync(`/proc/${holder}`)) {
        throw new StackError(
          `Another "factory up" (pid ${holder}) is already starting this stack; wait for it.`,
        );
      }
      rmSync(file, { force: true });
    }
  }
  throw new StackError(`Cannot take the lock ${file}; remove it if no factory command is running.`);
}

function tail(file: string, lines = 15): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

async function install(config: Config, out: Output) {
  const logFile = paths(config).log('install');
  const t0 = Date.now();
  const notes = await ensureDebianPackages(logFile, out.progress);
  await ensureKafka(config.cacheDir, logFile, out.progress);
  await ensureTemporal(config.cacheDir, logFile, out.progress);
  for (const n of notes) out.line(`  note: ${n}`);
  out.line(`✓ servers installed (${seconds(Date.now() - t0)}; cache ${config.cacheDir})`);
}

/** Waits until the component answers, failing early (with its log) if its process dies. */
async function awaitReady(config: Config, c: Component, record: PidRecord, out: Output, t0: number) {
  let lastError = '';
  const ok = await waitFor(
    async () => {
      if (!isAlive(record)) {
        throw new StackError(
          `${c.name} exited during start-up; its log ${paths(config).log(c.name)} ends with:\n${tail(paths(config).log(c.name))}`,
        );
      }
      try {
        await c.ping();
        return true;
      } catch (err) {
        lastError = errorText(err);
        out.progress(`waiting for ${c.name} (${seconds(Date.now() - t0)})`);
        return false;
      }
    },
    config.startTimeoutMs,
    250,
  );
  if (!ok) {
    throw new StackError(
      `${c.name} did not answer within ${seconds(config.startTimeoutMs)} (${lastError}); see ${paths(config).log(c.name)}.`,
    );
  }
}

/** New gateway accounts (a line added to the fleet): a running Mosquitto rereads its files on HUP. */
async function reloadCredentials(config: Config, all: Component[], out: Output) {
  const broker = all.find((c) => c.name === 'mosquitto');
  const record = broker && running(config, broker);
  if (!broker || !record) return;
  await broker.prepare();
  process.kill(record.pid, 'SIGHUP');
  out.line('✓ mosquitto reloaded its accounts and ACL (new gateway credentials)');
}

/**
 * Brings every component to healthy: installs what is missing, starts what is not running,
 * provisions contract resources, and leaves healthy running components alone.
 */
export async function up(config: Config, out: Output): Promise<ComponentStatus[]> {
  const unlock = lock(config);
  try {
    await install(config, out);
    const lines = linesOfFleet(process.env.FACTORY_FLEET ?? defaultFleetFile);
    const { changed } = ensureCredentials(
      config,
      lines.length ? lines : [{ site: 'plant-1', line: 'line-1' }],
    );
    const all = components(config);
    if (changed) await reloadCredentials(config, all, out);

    const before = await Promise.all(all.map((c) => probe(config, c)));
    if (before.every((s) => s.healthy)) {
      out.line('factory is already running and every component is healthy; nothing to do.');
      return before;
    }

    const toStart = all.filter((c) => !running(config, c));
    const conflicts: string[] = [];
    for (const c of toStart) {
      for (const b of c.binds) {
        if (!(await isPortFree(b.addr))) {
          const who = listenerOf(b.addr.port);
          conflicts.push(
            `${c.name} needs ${b.addr.host}:${b.addr.port}, which is taken${who ? ` by ${who}` : ''}: stop that process or set ${b.variable} to a free address.`,
          );
        }
      }
    }
    if (conflicts.length) throw new StackError(conflicts.join('\n'));

    const t0 = Date.now();
    await Promise.all(
      all.map(async (c) => {
        let record = running(config, c);
        if (!record) {
          await c.prepare();
          record = startDetached(c.spawn(), paths(config).log(c.name), paths(config).pid(c.name));
          await awaitReady(config, c, record, out, t0);
          out.line(`✓ ${c.name} started (pid ${record.pid}) in ${seconds(Date.now() - t0)}`);
        }
        await c.provision?.();
      }),
    );
    const after = await Promise.all(all.map((c) => probe(config, c)));
    out.line(`✓ stack ready in ${seconds(Date.now() - t0)}`);
    return after;
  } finally {
    unlock();
  }
}

/** Every process whose command line names a marker of this data directory (pid files lost, say). */
function strays(config: Config, known: Set<number>): number[] {
  const found: number[] = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    if (known.has(Number(pid)) || Number(pid) === process.pid) continue;
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (cmdline.includes(`${config.dataDir}/`) && !cmdline.includes('bin/factory.js'))
        found.push(Number(pid));
    } catch {
      // exited while we looked
    }
  }
  return found;
}

export async function down(config: Config, out: Output): Promise<void> {
  const all = components(config);
  const known = new Set<number>();
  await Promise.all(
    [...all].reverse().map(async (c) => {
      const pidFile = paths(config).pid(c.name);
      const record = readPidFile(pidFile);
      if (!record) return;
      known.add(record.pid);
      const t0 = Date.now();
      const how = await stopProcess(record, config.stopTimeoutMs);
      removePidFile(pidFile);
      if (how === 'stopped')
        out.line(`✓ ${c.name} stopped (pid ${record.pid}) in ${seconds(Date.now() - t0)}`);
      if (how === 'killed')
        out.line(
          `! ${c.name} (pid ${record.pid}) ignored TERM for ${seconds(config.stopTimeoutMs)} and was killed`,
        );
    }),
  );
  for (const pid of strays(config, known)) {
    const how = await stopProcess(
      { pid, marker: config.dataDir, startedAt: '', command: [] },
      config.stopTimeoutMs,
    );
    out.line(`✓ stopped a stray process ${pid} of this data directory (${how})`);
  }
  out.line('factory is down.');
}
