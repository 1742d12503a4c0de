/**
 * `factory bench --broker-crash`: on the running stack, crashes the MQTT broker in three ways,
 * round after round, lets the keeper (not the bench) bring it back, and checks that every
 * published reading is stored. The integration suite runs one round of each; the figures of
 * many rounds belong here.
 */
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../../common/config.js';
import { paths } from '../../common/config.js';
import type { LossReport } from '../../pipeline/verify.js';
import { keeperStateFile } from '../servers/keeper.js';
import { readHealthz } from '../servers/pipeline.js';
import type { Output } from '../supervisor/output.js';
import { isAlive, readPidFile, waitFor } from '../supervisor/process.js';
import { StackError } from '../supervisor/stack.js';
import { keeperHeld } from './bench-pause.js';
import { checkLoss } from './verify.js';

export type BrokerCrashKind = 'sigkill' | 'sigkill-data-lost' | 'sigterm';

export const BROKER_CRASHES: Record<BrokerCrashKind, string> = {
  sigkill: 'SIGKILL',
  'sigkill-data-lost': 'SIGKILL with its data directory deleted (a broker that lost all state)',
  sigterm: 'graceful stop (SIGTERM)',
};

export interface BrokerCrashRound<T = LossReport['totals']> {
  kind: BrokerCrashKind;
  /** Crash → a new broker process started by the keeper. */
  restartedMs: number;
  /** Crash → the bridges received `flowReadings` more readings. */
  recoveredMs: number;
  verifyMs: number;
  /** What the loss check found after the round. */
  checked: T;
}

export interface BrokerCrashResult {
  rounds: BrokerCrashRound[];
  lost: number;
}

const pidOf = (config: Config, name: string) => readPidFile(paths(config).pid(name));

async function bridgeReceived(config: Config): Promise<number> {
  let total = 0;
  for (let n = 1; n <= config.pipeline.bridges; n++) {
    try {
      total += (await readHealthz(config, 'bridge', n)).counters.received ?? 0;
    } catch {
      // a bridge being restarted: counted when it answers again
    }
  }
  return total;
}

/** Whether the bridges receive `n` more readings within the deadline: data flowing, not sockets open. */
export async function flowing(config: Config, n: number, timeoutMs: number): Promise<boolean> {
  const start = await bridgeReceived(config);
  return waitFor(async () => (await bridgeReceived(config)) - start >= n, timeoutMs, 250);
}

async function crash(config: Config, kind: BrokerCrashKind, pid: number): Promise<void> {
  if (kind === 'sigterm') return void process.kill(pid, 'SIGTERM');
  if (kind === 'sigkill') return void process.kill(pid, 'SIGKILL');
  // Deleted while nobody can restart it: the keeper must find a broker with no state at all.
  await keeperHeld(config, async () => {
    process.kill(pid, 'SIGKILL');
    if (!(await waitFor(() => !isAlive(pidOf(config, 'mosquitto')!), 5_000)))
      throw new StackError('The broker was still alive 5 s after SIGKILL.');
    rmSync(join(paths(config).server('mosquitto'), 'data'), { recursive: true, force: true });
  });
}

/**
 * One crash of the broker: the keeper must start a new one within 30 s, data must flow again
 * within 10 s of that, and `check` (a loss check over every machine) judges what was stored.
 */
export async function brokerCrashRound<T>(
  config: Config,
  kind: BrokerCrashKind,
  check: () => Promise<T>,
  /** Readings the bridges must receive to call data flowing: about two seconds of the fleet's. */
  flowReadings = 2_000,
): Promise<BrokerCrashRound<T>> {
  if (!(await flowing(config, flowReadings, 30_000)))
    throw new StackError('No data flowing through the bridges before the crash: is the stack healthy?');
  const victim = pidOf(config, 'mosquitto');
  if (!victim) throw new StackError('No broker running: start the stack with "factory up" first.');
  const t0 = Date.now();
  await crash(config, kind, victim.pid);
  const replaced = () => {
    const now = pidOf(config, 'mosquitto');
    return !!now && now.pid !== victim.pid && isAlive(now);
  };
  if (!(await waitFor(replaced, 30_000)))
    throw new StackError(`No new broker 30 s after the ${BROKER_CRASHES[kind]}: see the keeper's log.`);
  const restartedMs = Date.now() - t0;
  const restarts = () =>
    (
      JSON.parse(readFileSync(keeperStateFile(config), 'utf8')) as {
        restarts: { name: string; at: number }[];
      }
    ).restarts;
  if (!(await waitFor(() => restarts().some((r) => r.name === 'mosquitto' && r.at >= t0 - 1_000), 10_000)))
    throw new StackError('A new broker runs, but the keeper did not record restarting it.');
  if (!(await flowing(config, flowReadings, 10_000)))
    throw new StackError(
      `Data did not flow again within 10 s of the broker's restart (${BROKER_CRASHES[kind]}).`,
    );
  const recoveredMs = Date.now() - t0;
  const verifyStart = Date.now();
  const checked = await check();
  return { kind, restartedMs, recoveredMs, verifyMs: Date.now() - verifyStart, checked };
}

export async function benchBrokerCrash(
  config: Config,
  rounds: number,
  out: Output,
): Promise<BrokerCrashResult> {
  const result: BrokerCrashRound[] = [];
  let duplicates = 0;
  for (let r = 1; r <= rounds; r++) {
    for (const kind of Object.keys(BROKER_CRASHES) as BrokerCrashKind[]) {
      const round = await brokerCrashRound(
        config,
        kind,
        async () => (await checkLoss(config, { waitMs: 60_000 })).totals,
      );
      result.push(round);
      const t = round.checked;
      out.line(
        `  round ${r}/${rounds}, ${BROKER_CRASHES[kind]}: back in ${round.restartedMs} ms, flowing in ${round.recoveredMs} ms, verify ${round.verifyMs} ms: ${t.published} published, ${t.lost} lost, ${t.duplicates - duplicates} new duplicates`,
      );
      duplicates = t.duplicates;
    }
  }
  return { rounds: result, lost: result.reduce((n, r) => Math.max(n, r.checked.lost), 0) };
}
