/**
 * What the runner does to the plant and the platform: the machines a fault entry reaches (a
 * share drawn with the scenario's seed, so a run replays), and signals to the stack's processes
 * by their pid files. Machine faults themselves go through the command path (`sendCommand`),
 * the same as `factory inject`, so a simulation exercises what an operator would.
 */
import { type RandomSource, uniform } from '../actors/random.js';
import { type Config, paths } from '../common/config.js';
import { isAlive, readPidFile } from '../infra/supervisor/process.js';
import { StackError } from '../infra/supervisor/stack.js';
import { type Scenario, type Target, type TimelineEntry, targetMachines } from './scenario.js';

/**
 * The machines each fault entry of the timeline reaches, by entry index. Shares are drawn in
 * file order from one generator seeded with the scenario's seed: the same file and fleet give
 * the same machines on every run (`round(share × matched)`, at least one).
 */
export function resolveTargets<M extends { machineId: string; line: string }>(
  scenario: Scenario,
  machines: M[],
): Map<number, M[]> {
  const rng: RandomSource = { rng: scenario.seed | 0 };
  const out = new Map<number, M[]>();
  scenario.timeline.forEach((e, i) => {
    if (e.kind === 'fault') out.set(i, draw(e.target, machines, rng));
  });
  return out;
}

function draw<M extends { machineId: string; line: string }>(
  target: Target,
  machines: M[],
  rng: RandomSource,
): M[] {
  const matched = targetMachines(target, machines);
  if (target.share === undefined) return matched;
  const pool = [...matched];
  // Fisher–Yates, as far as needed: the first `n` of a uniform shuffle.
  const n = Math.min(pool.length, Math.max(1, Math.round(target.share * pool.length)));
  for (let i = 0; i < n; i++) {
    const j = i + Math.floor(uniform(rng) * (pool.length - i));
    [pool[i], pool[j]] = [pool[j]!, pool[i]!];
  }
  return pool.slice(0, n).sort((a, b) => a.machineId.localeCompare(b.machineId));
}

/** The pid of a running stack component (`worker-1`, `kafka`, `keeper`), or a sentence why not. */
export function pidOf(config: Config, name: string): number {
  const record = readPidFile(paths(config).pid(name));
  if (!record || !isAlive(record))
    throw new StackError(`${name} is not running in the stack at ${config.dataDir} ("factory status").`);
  return record.pid;
}

/**
 * A signal to a component: to its process group (started detached, each leads its own group,
 * so a server's helpers go with it), or to the process alone when it leads none.
 */
export function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pid, sig);
  } catch {
    process.kill(pid, sig);
  }
}

/** The name a platform entry acts on. */
export const platformTarget = (e: Exclude<TimelineEntry, { kind: 'fault' }>) =>
  e.kind === 'stop' ? e.server : e.kind === 'network' ? `${e.network.from}→${e.network.to}` : e.process.name;
