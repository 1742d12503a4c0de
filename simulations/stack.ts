/**
 * The stack a simulation runs against. By default a stack of its own: data directory
 * `.data-sim` and every port moved to 1xxxx, so a run never touches a developer's `factory up`
 * (default ports) or the integration suite's (2xxxx), and its data is wiped before each run so
 * that runs replay. `--reuse` runs against the stack of the current configuration instead.
 */
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { type Config, loadConfig, projectRoot } from '../common/config.js';
import { connectNats } from '../common/nats.js';
import { FleetRegistry } from '../common/registry.js';
import type { Output } from '../infra/supervisor/output.js';
import { StackError, status } from '../infra/supervisor/stack.js';

/** Where a simulation's own stack keeps its data (in .gitignore and biome's ignore list). */
export const SIM_DATA_DIR = join(projectRoot, '.data-sim');

/** The simulation stack's addresses: every port of the defaults moved to 1xxxx (below the kernel's ephemeral range, so an outgoing connection never holds one), links through Toxiproxy. */
export const SIM_ENV: Readonly<Record<string, string>> = {
  FACTORY_DATA_DIR: SIM_DATA_DIR,
  FACTORY_MQTT_ADDR: '127.0.0.1:11883',
  FACTORY_NATS_ADDR: '127.0.0.1:14222',
  FACTORY_KAFKA_ADDR: '127.0.0.1:19092',
  FACTORY_KAFKA_CONTROLLER_ADDR: '127.0.0.1:19093',
  FACTORY_INFLUX_ADDR: '127.0.0.1:18086',
  FACTORY_INFLUX_RPC_ADDR: '127.0.0.1:18088',
  FACTORY_TEMPORAL_ADDR: '127.0.0.1:17233',
  FACTORY_TEMPORAL_UI_ADDR: '127.0.0.1:18233',
  FACTORY_HTTP_ADDR: '127.0.0.1:13000',
  FACTORY_METRICS_PORT_BASE: '19400',
  // A stack of its own always has its links proxied, so that network faults can be injected.
  FACTORY_LINK_PROXIES: '1',
  FACTORY_TOXIPROXY_ADDR: '127.0.0.1:18474',
  FACTORY_PROXY_PORT_BASE: '11500',
};

/** The caller's environment with the simulation stack's data directory and ports over it. */
export const simEnv = (base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv => ({ ...base, ...SIM_ENV });

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs the real CLI in a child process with `env`: the stack's processes inherit the
 * environment of whoever starts them, so a stack on other ports must be started by a CLI
 * that has those ports in its own environment. `onLine` sees each line of output as it comes.
 */
export function runCli(
  args: string[],
  env: NodeJS.ProcessEnv,
  timeoutMs = 600_000,
  onLine?: (line: string) => void,
): Promise<CliResult> {
  return new Promise<CliResult>((resolve, reject) => {
    const child = spawn(process.execPath, [join(projectRoot, 'bin', 'factory.js'), ...args], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let pending = '';
    child.stdout.on('data', (b) => {
      stdout += b;
      if (!onLine) return;
      pending += b;
      const lines = pending.split(/\r|\n/);
      pending = lines.pop() ?? '';
      for (const l of lines) if (l.trim()) onLine(l);
    });
    child.stderr.on('data', (b) => {
      stderr += b;
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(`factory ${args.join(' ')} did not finish within ${timeoutMs} ms:\n${stdout}\n${stderr}`),
      );
    }, timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A stack to run against and how to let it go at the end. */
export interface SimStack {
  config: Config;
  /** True when this run started it (and so takes it down unless --keep). */
  own: boolean;
  env: NodeJS.ProcessEnv;
}

/**
 * A fresh simulation stack: whatever an earlier run left is taken down and its data wiped,
 * then `factory up` with the scenario's fleet and workers.
 */
export async function freshStack(
  fleet: { machines: number; workers: number },
  out: Output,
): Promise<SimStack> {
  const env = simEnv();
  const config = loadConfig(env);
  out.line(`Starting a stack of its own for the run (data ${SIM_DATA_DIR}, ports 1xxxx)…`);
  await runCli(['down'], env, 180_000);
  rmSync(SIM_DATA_DIR, { recursive: true, force: true });
  const r = await runCli(
    ['up', '--machines', String(fleet.machines), '--workers', String(fleet.workers)],
    env,
    config.startTimeoutMs + 600_000,
    (l) => out.progress(`factory up: ${l.trim().replace(/^… /, '').slice(0, 100)}`),
  );
  if (r.code !== 0) {
    await runCli(['down'], env, 180_000).catch(() => undefined);
    throw new StackError(
      `The simulation stack did not come up (factory up exited ${r.code}): ${lastLines(r)}. Logs are in ${join(SIM_DATA_DIR, 'logs')}; check that the ports 1xxxx are free.`,
    );
  }
  return { config, own: true, env };
}

const lastLines = (r: CliResult) =>
  `${r.stderr}\n${r.stdout}`.trim().split('\n').slice(-3).join(' / ').slice(0, 400) || 'no output';

/** The running stack of the current configuration, which must be up and healthy. */
export async function reusedStack(config: Config): Promise<SimStack> {
  const rows = await status(config);
  const sick = rows.filter((r) => !r.healthy);
  if (sick.length > 0)
    throw new StackError(
      `--reuse needs the stack of this configuration (data ${config.dataDir}) running and healthy, and ${sick
        .map((r) => `${r.name} is ${r.pid === null ? 'not running' : `unhealthy (${r.detail})`}`)
        .slice(0, 3)
        .join(
          ', ',
        )}${sick.length > 3 ? ` and ${sick.length - 3} more` : ''}: run "factory up" first (or leave out --reuse for a stack of its own).`,
    );
  return { config, own: false, env: process.env };
}

/** Takes down a stack this run started. */
export async function releaseStack(stack: SimStack, out: Output): Promise<void> {
  if (!stack.own) return;
  out.line('Taking the simulation stack down…');
  const r = await runCli(['down'], stack.env, 300_000);
  if (r.code !== 0) out.line(`factory down exited ${r.code}: ${lastLines(r)}`);
}

/** A machine of the running fleet, as the fleet registry (the one owner of the fleet) knows it. */
export interface LiveMachine {
  machineId: string;
  site: string;
  line: string;
  type: string;
}

/** The fleet registry's active machines, in id order. */
export async function liveMachines(config: Config): Promise<LiveMachine[]> {
  const nc = await connectNats(config, 'factory-sim', 'operator').catch(() => {
    throw new StackError('Cannot reach NATS: is the stack running ("factory status")?');
  });
  try {
    const registry = await FleetRegistry.open(nc).catch(() => {
      throw new StackError('There is no fleet registry yet: run "factory up" first.');
    });
    return [...(await registry.machines()).values()]
      .filter((m) => m.retiredAt === null && !m.external)
      .map((m) => ({ machineId: m.machineId, site: m.site, line: m.line, type: m.type }))
      .sort((a, b) => a.machineId.localeCompare(b.machineId));
  } finally {
    await nc.close();
  }
}
