import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join, relative } from 'node:path';
import { z } from 'zod';
import { type Fleet, loadFleet } from '../../actors/index.js';
import { type Config, paths } from '../../common/config.js';
import { ensureCredentials } from '../../common/credentials.js';
import { connectNats } from '../../common/nats.js';
import { FleetRegistry } from '../../common/registry.js';
import { ensureDebianPackages } from '../install/debian.js';
import { ensureKafka, kafkaLibDir } from '../install/kafka.js';
import { ensureTemporal, temporalBinary } from '../install/temporal.js';
import { ensureToxiproxy, toxiproxyBinary } from '../install/toxiproxy.js';
import { analytics } from '../servers/analytics.js';
import {
  type Component,
  type ComponentContext,
  exposedBinds,
  NotCuredByRestart,
  withTimeout,
} from '../servers/component.js';
import { grafana, grafanaBinary } from '../servers/grafana.js';
import { influxdb } from '../servers/influxdb.js';
import { kafka } from '../servers/kafka.js';
import { keeper } from '../servers/keeper.js';
import { mosquitto } from '../servers/mosquitto.js';
import { nats } from '../servers/nats.js';
import { pipelineProcess } from '../servers/pipeline.js';
import { temporal } from '../servers/temporal.js';
import { toxiproxy } from '../servers/toxiproxy.js';
import { web } from '../servers/web.js';
import { worker } from '../servers/worker.js';
import { workflows } from '../servers/workflows.js';
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

/**
 * What `factory up` was asked to run, kept in `.data/run/stack.json` so that `status`, `down`,
 * `scale` and the keeper (which take no fleet flags) see the same components.
 */
const planSchema = z.object({
  fleet: z.string(),
  machines: z.number().int().positive().optional(),
  workers: z.number().int().positive().optional(),
});
export type StackPlan = z.infer<typeof planSchema>;

const planFile = (config: Config) => join(paths(config).run, 'stack.json');

export function readPlan(config: Config): StackPlan {
  try {
    const parsed = planSchema.safeParse(JSON.parse(readFileSync(planFile(config), 'utf8')));
    if (parsed.success) return parsed.data;
  } catch {
    // never started: the defaults
  }
  return { fleet: config.fleetFile };
}

function writePlan(config: Config, plan: StackPlan) {
  mkdirSync(paths(config).run, { recursive: true });
  writeFileSync(planFile(config), `${JSON.stringify(plan)}\n`);
}

const workerCount = (config: Config, plan: StackPlan) => plan.workers ?? config.workers.count;

function fleetOf(plan: StackPlan): Fleet {
  const fleet = loadFleet(plan.fleet);
  if (!fleet.ok) throw new StackError(`The fleet file ${plan.fleet} is invalid: ${fleet.reason}.`);
  return fleet.fleet;
}

/** Every line of the fleet file: each gets an MQTT account, whatever the scale. */
export function fleetLines(plan: StackPlan): { site: string; line: string }[] {
  return fleetOf(plan).sites.flatMap((s) => s.lines.map((l) => ({ site: s.id, line: l.id })));
}

/**
 * Start order, tier by tier; `down` goes in reverse. Writers and analytics before bridges before workers:
 * the bridges' persistent subscriptions must exist before the first telemetry is published
 * (the broker drops messages nobody subscribes to), and at shutdown the workers hand their
 * machines over and deliver what they hold while the pipeline still runs.
 */
export function tiers(config: Config, plan: StackPlan = readPlan(config)): Component[][] {
  return [...supervised(config, plan), [keeper(context(config))]];
}

/**
 * What the keeper looks after: every tier but its own. The keeper comes last in `up` (it
 * watches a stack that is already healthy) and first in `down` (nothing is restarted while
 * the rest stops).
 */
export function supervised(config: Config, plan: StackPlan = readPlan(config)): Component[][] {
  const ctx = context(config);
  const { bridges, writers } = config.pipeline;
  return [
    servers(config),
    [
      ...Array.from({ length: writers }, (_, i) => pipelineProcess(ctx, 'writer', i + 1)),
      ...Array.from({ length: config.pipeline.analytics }, (_, i) => analytics(ctx, i + 1)),
      ...Array.from({ length: config.pipeline.workflowWorkers }, (_, i) => workflows(ctx, i + 1)),
    ],
    Array.from({ length: bridges }, (_, i) => pipelineProcess(ctx, 'bridge', i + 1)),
    Array.from({ length: workerCount(config, plan) }, (_, i) => worker(ctx, i + 1)),
    [web(ctx)],
    // Last, so that a Grafana in trouble never holds back healing the pipeline; only when named.
    ...grafanaTier(ctx),
  ];
}

function grafanaTier(ctx: ComponentContext): Component[][] {
  const bin = grafanaBinary(ctx.config);
  return bin ? [[grafana(ctx, bin)]] : [];
}

export const components = (config: Config, plan?: StackPlan): Component[] => tiers(config, plan).flat();

const context = (config: Config): ComponentContext => ({
  config,
  tools: {
    kafkaLib: kafkaLibDir(config.cacheDir),
    temporal: temporalBinary(config.cacheDir),
    toxiproxy: toxiproxyBinary(config.cacheDir),
  },
});

/**
 * The servers, and with FACTORY_LINK_PROXIES the Toxiproxy in front of them: it only forwards,
 * so it starts beside them, and like them before every process that connects through it.
 */
export function servers(config: Config): Component[] {
  const ctx = context(config);
  return [
    mosquitto(ctx),
    nats(ctx),
    kafka(ctx),
    influxdb(ctx),
    temporal(ctx),
    ...(config.linkProxies.enabled ? [toxiproxy(ctx)] : []),
  ];
}

/** A failure the operator can act on; printed as one sentence, exit code 1. */
export class StackError extends Error {}

export interface ComponentStatus {
  name: string;
  pid: number | null;
  address: string;
  healthy: boolean;
  detail: string;
  /** Work per second (received, forwarded, written, published, confirmed), where it applies. */
  rate: string;
  /** False when the component says a restart would not cure what ails it (the keeper leaves it). */
  restartable?: boolean;
  log: string;
}

const errorText = (err: unknown) => (err instanceof Error ? err.message : String(err));

export function running(config: Config, c: Component): PidRecord | undefined {
  const record = readPidFile(paths(config).pid(c.name));
  return record && isAlive(record) ? record : undefined;
}

/** Longer than any one check's own deadlines (5 s per round trip), shorter than the keeper's patience. */
const HEALTH_CHECK_TIMEOUT_MS = 20_000;

export async function probe(config: Config, c: Component): Promise<ComponentStatus> {
  const record = running(config, c);
  const base = { name: c.name, pid: record?.pid ?? null, address: c.address, log: paths(config).log(c.name) };
  if (!record) return { ...base, healthy: false, detail: 'not running', rate: '' };
  try {
    // A check that never answers (a client retrying forever against a restarting server) is a
    // failed check: it must not hold up `status`, or a keeper round, past its deadline.
    const h = await withTimeout(`${c.name} health check`, HEALTH_CHECK_TIMEOUT_MS, c.health());
    return typeof h === 'string'
      ? { ...base, healthy: true, detail: h, rate: '' }
      : { ...base, healthy: true, detail: h.detail, rate: h.rate };
  } catch (err) {
    const restartable = err instanceof NotCuredByRestart ? false : undefined;
    return { ...base, healthy: false, detail: errorText(err), rate: '', restartable };
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
    ['COMPONENT', 'PID', 'ADDRESS', 'HEALTH', 'RATE', 'LOG'],
    ...rows.map((r) => [
      r.name,
      r.pid ? String(r.pid) : '-',
      r.address,
      r.healthy ? 'healthy' : 'UNHEALTHY',
      r.rate || '-',
      shown(r.log),
    ]),
  ]);
  const problems = rows.filter((r) => !r.healthy).map((r) => `  ${r.name}: ${r.detail}`);
  const workers = rows.filter((r) => r.name.startsWith('worker-') && r.healthy);
  return [
    body,
    ...(workers.length ? ['', 'Workers (shards of machine-commands, machines hosted):'] : []),
    ...workers.map((r) => `  ${r.name}: ${r.detail.split(';')[0]}`),
    ...(problems.length ? ['', 'Problems:', ...problems] : []),
    '',
    `Credentials: ${shown(paths(config).credentials)}`,
    `Data and logs: ${shown(config.dataDir)}`,
  ].join('\n');
}

const lockFile = (config: Config) => join(paths(config).run, 'up.lock');

/**
 * Takes the stack's start lock (one starter at a time per data directory: `factory up` or
 * the keeper restarting something). Returns the release function, or the live holder's pid
 * (-1 while the holder is still writing its pid).
 */
export function tryLock(config: Config): (() => void) | number {
  const file = lockFile(config);
  mkdirSync(paths(config).run, { recursive: true });
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => rmSync(file, { force: true });
    } catch {
      let holder = 0;
      let ageMs = 0;
      try {
        holder = Number(readFileSync(file, 'utf8'));
        ageMs = Date.now() - statSync(file).mtimeMs;
      } catch {
        continue; // released while we looked
      }
      // Our own pid here is a bug (two holds in one process), not a stale lock: never steal it.
      if (holder === process.pid) throw new StackError(`${file} is already held by this process.`);
      if (holder && existsSync(`/proc/${holder}`)) return holder;
      // Empty: its creator is between creating and writing it. Wait for it rather than steal it.
      if (!holder && ageMs < 5_000) return -1;
      rmSync(file, { force: true });
    }
  }
  throw new StackError(`Cannot take the lock ${file}; remove it if no factory command is running.`);
}

const isKeeper = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('keeper-main');
  } catch {
    return false;
  }
};

/** One `factory up` at a time; the keeper only holds the lock while it restarts something. */
async function lock(config: Config): Promise<() => void> {
  const deadline = Date.now() + config.startTimeoutMs;
  for (;;) {
    const got = tryLock(config);
    if (typeof got === 'function') return got;
    if (got !== -1 && !isKeeper(got)) {
      throw new StackError(`Another "factory up" (pid ${got}) is already starting this stack; wait for it.`);
    }
    if (Date.now() > deadline) throw new StackError(`The keeper (pid ${got}) holds ${lockFile(config)}.`);
    await new Promise((r) => setTimeout(r, 200));
  }
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
  if (config.linkProxies.enabled) await ensureToxiproxy(config.cacheDir, logFile, out.progress);
  for (const n of notes) out.line(`  note: ${n}`);
  out.line(`✓ servers installed (${seconds(Date.now() - t0)}; cache ${config.cacheDir})`);
}

/** Waits until the component answers, failing early (with its log) if its process dies. */
async function awaitReady(
  config: Config,
  c: Component,
  record: PidRecord,
  out: Output,
  t0: number,
  waiting: Set<string>,
) {
  waiting.add(c.name);
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
        out.progress(`waiting for ${[...waiting].join(', ')} (${seconds(Date.now() - t0)})`);
        return false;
      }
    },
    config.startTimeoutMs,
    250,
  );
  waiting.delete(c.name);
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
 * Configures and spawns a component, waits until it answers and provisions what it serves.
 * The one way anything is started, by `factory up` and by the keeper.
 */
export async function startComponent(
  config: Config,
  c: Component,
  out: Output,
  t0 = Date.now(),
  waiting = new Set<string>(),
): Promise<PidRecord> {
  await c.prepare();
  const record = startDetached(c.spawn(), paths(config).log(c.name), paths(config).pid(c.name));
  await awaitReady(config, c, record, out, t0, waiting);
  await c.provision?.();
  return record;
}

/** Starts what is not running among `group` (in parallel), waits for each, provisions it. */
async function bringUp(config: Config, group: Component[], out: Output, t0: number) {
  const waiting = new Set<string>();
  await Promise.all(
    group.map(async (c) => {
      let record = running(config, c);
      if (
        record &&
        c.replaceWhenStuck &&
        !(await c.ping().then(
          () => true,
          () => false,
        ))
      ) {
        await stopProcess(record, config.stopTimeoutMs);
        out.line(`✓ ${c.name} (pid ${record.pid}) did not answer and was stopped`);
        record = undefined;
      }
      if (!record) {
        const started = await startComponent(config, c, out, t0, waiting);
        out.line(`✓ ${c.name} started (pid ${started.pid}) in ${seconds(Date.now() - t0)}`);
        return;
      }
      // Running but perhaps cut off (a gateway whose broker was restarted): wait for it too.
      await awaitReady(config, c, record, out, t0, waiting);
      await c.provision?.();
    }),
  );
}

async function portConflicts(toStart: Component[]): Promise<string[]> {
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
  return conflicts;
}

/**
 * Makes the fleet registry hold the plan's fleet: machines keep their identity; growing adds
 * (or revives) machines, shrinking retires the newest. Workers follow the registry live.
 */
async function applyRegistry(config: Config, plan: StackPlan, out: Output): Promise<void> {
  const nc = await connectNats(config, 'factory-up', 'admin');
  try {
    const registry = await FleetRegistry.open(nc, { create: true });
    const r = await registry.apply(fleetOf(plan), { machines: plan.machines });
    const active = [...(await registry.machines()).values()].filter((m) => m.retiredAt === null).length;
    const changes = [
      r.added && `${r.added} added`,
      r.revived && `${r.revived} revived`,
      r.retired && `${r.retired} retired`,
    ].filter(Boolean);
    out.line(`✓ fleet registry: ${active} machines${changes.length ? ` (${changes.join(', ')})` : ''}`);
  } finally {
    await nc.close();
  }
}

/**
 * Brings every component to healthy: installs what is missing, starts what is not running
 * (servers first, then the processes that need them), provisions contract resources, makes
 * the fleet registry hold the requested fleet, and leaves healthy running components alone.
 * On a running stack, `--machines` grows or shrinks the fleet live and `--workers` scales.
 */
export async function up(
  config: Config,
  out: Output,
  request: { machines?: number; workers?: number } = {},
): Promise<ComponentStatus[]> {
  const unlock = await lock(config);
  try {
    await install(config, out);
    const previous = readPlan(config);
    const plan: StackPlan = {
      fleet: config.fleetFile,
      machines: request.machines ?? (previous.fleet === config.fleetFile ? previous.machines : undefined),
      workers: request.workers ?? previous.workers ?? config.workers.count,
    };
    const { changed } = ensureCredentials(config, fleetLines(plan));
    if (changed) await reloadCredentials(config, servers(config), out);
    const surplus = surplusWorkers(config, plan);
    writePlan(config, plan);
    await stopComponents(config, surplus, out);
    const groups = tiers(config, plan);
    const all = groups.flat();

    const before = await Promise.all(all.map((c) => probe(config, c)));
    if (before.every((s) => s.healthy)) {
      await applyRegistry(config, plan, out);
      out.line('factory is running and every component is healthy.');
      return before;
    }
    const exposed = exposedBinds(all);
    if (exposed.length) throw new StackError(exposed.join('\n'));
    const conflicts = await portConflicts(all.filter((c) => !running(config, c)));
    if (conflicts.length) throw new StackError(conflicts.join('\n'));

    const t0 = Date.now();
    for (const [i, group] of groups.entries()) {
      await bringUp(config, group, out, t0);
      if (i === 0) await applyRegistry(config, plan, out);
    }
    const after = await settled(config, all, out, t0);
    out.line(`✓ stack ready in ${seconds(Date.now() - t0)}`);
    return after;
  } finally {
    unlock();
  }
}

/**
 * The stack's health once everything answered. A stage that was ready a moment ago may be
 * catching up on what queued while a server was down (its lag rises while the backlog
 * arrives): it gets up to a minute to become healthy before `up` reports it.
 */
async function settled(
  config: Config,
  all: Component[],
  out: Output,
  t0: number,
): Promise<ComponentStatus[]> {
  let rows = await Promise.all(all.map((c) => probe(config, c)));
  const deadline = Date.now() + 60_000;
  while (rows.some((r) => !r.healthy && r.pid !== null) && Date.now() < deadline) {
    const names = rows.filter((r) => !r.healthy).map((r) => r.name);
    out.progress(`waiting for ${names.join(', ')} to settle (${seconds(Date.now() - t0)})`);
    await new Promise((r) => setTimeout(r, 2_000));
    rows = await Promise.all(all.map((c) => probe(config, c)));
  }
  return rows;
}

/** Running workers numbered above the plan's count (a scale-down): stopped gracefully. */
function surplusWorkers(config: Config, plan: StackPlan): Component[] {
  const ctx = context(config);
  const out: Component[] = [];
  for (let n = workerCount(config, plan) + 1; n <= 64; n++) {
    const c = worker(ctx, n);
    if (readPidFile(paths(config).pid(c.name))) out.push(c);
  }
  return out;
}

/**
 * `factory scale --workers W`: starts workers up to W, or stops those above W. A stopped
 * worker hands its machines over (snapshot first) before it leaves the group.
 */
export async function scale(config: Config, out: Output, workers: number): Promise<void> {
  const unlock = await lock(config);
  try {
    const previous = readPlan(config);
    const ctx = context(config);
    const anyServer = servers(config).some((c) => running(config, c));
    if (!anyServer)
      throw new StackError(`The stack is not running; start it with "factory up --workers ${workers}".`);
    const plan = { ...previous, workers };
    const surplus = surplusWorkers(config, plan);
    writePlan(config, plan);
    const t0 = Date.now();
    await stopComponents(config, surplus, out);
    await bringUp(
      config,
      Array.from({ length: workers }, (_, i) => worker(ctx, i + 1)),
      out,
      t0,
    );
    out.line(`✓ ${workers} worker${workers === 1 ? '' : 's'} in ${seconds(Date.now() - t0)}`);
  } finally {
    unlock();
  }
}

async function stopComponents(config: Config, group: Component[], out: Output, known = new Set<number>()) {
  await Promise.all(
    group.map(async (c) => {
      const pidFile = paths(config).pid(c.name);
      const record = readPidFile(pidFile);
      if (!record) return;
      known.add(record.pid);
      const t0 = Date.now();
      const how = await stopProcess(record, config.stopTimeoutMs);
      removePidFile(pidFile);
      if (how === 'stopped')
        out.line(`✓ ${c.name} stopped (pid ${record.pid}) in ${seconds(Date.now() - t0)}`);
      if (how === 'killed') {
        out.line(
          `! ${c.name} (pid ${record.pid}) ignored TERM for ${seconds(config.stopTimeoutMs)} and was killed`,
        );
      }
    }),
  );
}

/** Every process whose command line names a marker of this data directory (pid files lost, say). */
function strays(config: Config, known: Set<number>): number[] {
  const found: number[] = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    if (known.has(Number(pid)) || Number(pid) === process.pid) continue;
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      const ours = cmdline.includes(`${config.dataDir}/`) || cmdline.includes(`${config.dataDir}\0`);
      if (ours && !cmdline.includes('bin/factory.js')) found.push(Number(pid));
    } catch {
      // exited while we looked
    }
  }
  return found;
}

export async function down(config: Config, out: Output): Promise<void> {
  const known = new Set<number>();
  const stop = (group: Component[]) => stopComponents(config, group, out, known);
  for (const group of tiers(config).reverse()) await stop(group);
  for (const pid of strays(config, known)) {
    const how = await stopProcess({ pid, marker: '', startedAt: '', command: [] }, config.stopTimeoutMs);
    out.line(`✓ stopped a stray process ${pid} of this data directory (${how})`);
  }
  rmSync(planFile(config), { force: true });
  out.line('factory is down.');
}
