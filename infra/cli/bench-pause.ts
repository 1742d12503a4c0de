/**
 * `factory bench --pause-soak`: on the running stack, stops a worker with SIGSTOP until the
 * group has given every one of its machines to other workers, resumes it, and looks for stale
 * readings: anything it numbered from its old seq block after the pause began. A worker's fence
 * must hold across the pause (ADR 0004): one stale reading is a failed round. The integration
 * suite runs the same rounds (fewer of them).
 */
import { randomUUID } from 'node:crypto';
import mqtt from 'mqtt';
import type { NatsConnection } from 'nats';
import type { Config } from '../../common/config.js';
import { formatAddress, paths } from '../../common/config.js';
import { readCredentials } from '../../common/credentials.js';
import { heartbeatSchema, subjects } from '../../common/machine-commands.js';
import { connectNats } from '../../common/nats.js';
import { sleep } from '../../common/retry.js';
import { SnapshotStore } from '../../workers/snapshot-store.js';
import type { Output } from '../supervisor/output.js';
import { isAlive, processState, readPidFile, waitFor } from '../supervisor/process.js';

const stoppedState = (pid: number) => {
  try {
    return processState(pid) === 'T';
  } catch {
    return false; // gone
  }
};

import { StackError } from '../supervisor/stack.js';

export interface PauseRound {
  worker: string;
  machines: number;
  /** SIGSTOP → every one of its machines saved by another owner. */
  takenOverMs: number;
  /** SIGCONT → its heartbeat says unfenced again (it rejoined the group). */
  rejoinedMs: number;
  /** Readings it numbered from its old block after the pause began: must be none. */
  stale: { machineId: string; seq: number; ts: number }[];
  /** Machines whose stored state went back to an older one after the resume: must be none. */
  overwritten: string[];
}

export interface PauseSoakResult {
  rounds: PauseRound[];
  staleReadings: number;
  overwrittenMachines: number;
}

/** How long after the resume a stale owner would have published (a few ticks of every machine). */
const STALE_WINDOW_MS = 3_000;

/**
 * Runs `work` with the stack's keeper stopped (SIGSTOP), so that a process stopped on purpose
 * is not restarted as stuck; the keeper resumes afterwards, whatever happens.
 */
export async function keeperHeld<T>(config: Config, work: () => Promise<T>): Promise<T> {
  const record = readPidFile(paths(config).pid('keeper'));
  if (!record || !isAlive(record))
    throw new StackError('The keeper is not running: start the stack with "factory up" first.');
  process.kill(record.pid, 'SIGSTOP');
  try {
    return await work();
  } finally {
    try {
      process.kill(record.pid, 'SIGCONT');
    } catch {
      // `factory up` replaced the stopped keeper meanwhile (as it does with a stuck one)
    }
  }
}

/** One round: pause `worker` past its session, resume it, and collect what it did wrong. */
export async function pauseRound(config: Config, nc: NatsConnection, worker: string): Promise<PauseRound> {
  const store = await SnapshotStore.open(nc);
  const owned = async () => new Map([...(await store.all())].map(([id, e]) => [id, e.value]));
  const before = await owned();
  const victims = [...before.values()].filter((s) => s.owner === worker && !s.released);
  if (victims.length === 0) throw new StackError(`${worker} hosts no machines: nothing to pause.`);
  const record = readPidFile(paths(config).pid(worker));
  if (!record || !isAlive(record)) throw new StackError(`${worker} is not running.`);

  const seen = new Map<string, [number, number][]>();
  const mq = await mqtt.connectAsync(`mqtt://${formatAddress(config.mqtt)}`, {
    ...readCredentials(config).mqtt,
    clientId: `bench-pause-${randomUUID().slice(0, 8)}`,
  });
  let resumedAt = 0;
  let unfencedAt = 0;
  const beats = nc.subscribe(subjects.heartbeat, {
    callback: (_e, msg) => {
      const hb = heartbeatSchema.safeParse(msg.json());
      if (hb.success && hb.data.workerId === worker && !hb.data.fenced && unfencedAt === 0 && resumedAt > 0)
        unfencedAt = Date.now();
    },
  });
  try {
    mq.on('message', (_t, payload) => {
      const t = JSON.parse(payload.toString()) as { machineId: string; seq: number; ts: number };
      const list = seen.get(t.machineId) ?? [];
      list.push([t.seq, t.ts]);
      seen.set(t.machineId, list);
    });
    await mq.subscribeAsync('factory/+/+/+/telemetry', { qos: 0 });
    let stoppedAt = 0;
    let takenOver = new Map<string, (typeof victims)[number]>();
    await keeperHeld(config, async () => {
      process.kill(record.pid, 'SIGSTOP');
      try {
        // From the moment the kernel shows it stopped: a tick already under way may still land.
        if (!(await waitFor(() => stoppedState(record.pid), 5_000, 5)))
          throw new StackError(`${worker} did not stop on SIGSTOP.`);
        stoppedAt = Date.now();
        const moved = async () => {
          takenOver = await owned();
          return victims.every((v) => takenOver.get(v.machineId)?.owner !== worker);
        };
        if (!(await waitFor(moved, 60_000, 500)))
          throw new StackError(`The machines of the stopped ${worker} were not taken over within 60 s.`);
      } finally {
        process.kill(record.pid, 'SIGCONT');
        resumedAt = Date.now();
      }
      if (!(await waitFor(() => unfencedAt > 0, 60_000, 100)))
        throw new StackError(`${worker} did not rejoin the group within 60 s of its resume.`);
      await sleep(STALE_WINDOW_MS);
    });
    const after = await owned();
    const stale = victims.flatMap((v) =>
      (seen.get(v.machineId) ?? [])
        .filter(([seq, ts]) => ts >= stoppedAt && seq <= v.reservedUpTo)
        .map(([seq, ts]) => ({ machineId: v.machineId, seq, ts })),
    );
    const overwritten = victims
      .map((v) => v.machineId)
      .filter((id) => {
        const now = after.get(id);
        const then = takenOver.get(id);
        return !now || !then || now.seq < then.seq || now.epoch < then.epoch;
      });
    return {
      worker,
      machines: victims.length,
      takenOverMs: resumedAt - stoppedAt,
      rejoinedMs: unfencedAt - resumedAt,
      stale,
      overwritten,
    };
  } finally {
    beats.unsubscribe();
    await mq.endAsync();
  }
}

export async function benchPauseSoak(config: Config, rounds: number, out: Output): Promise<PauseSoakResult> {
  const nc = await connectNats(config, 'factory-bench-pause', 'admin').catch(() => {
    throw new StackError('Cannot reach NATS: start the stack with "factory up" first.');
  });
  try {
    const workers = await liveWorkers(nc);
    if (workers.length < 2)
      throw new StackError('The pause soak needs at least 2 workers: "factory scale --workers 3".');
    const result: PauseRound[] = [];
    for (let r = 0; r < rounds; r++) {
      const worker = workers[r % workers.length]!;
      // Every worker back and serving before the next pause.
      if (!(await waitFor(async () => (await liveWorkers(nc, true)).length === workers.length, 60_000, 200)))
        throw new StackError('The workers did not all come back unfenced within 60 s.');
      const round = await pauseRound(config, nc, worker);
      result.push(round);
      out.line(
        `  round ${r + 1}/${rounds}: ${worker} (${round.machines} machines) taken over in ${round.takenOverMs} ms, rejoined ${round.rejoinedMs} ms after resume; stale readings ${round.stale.length}, overwritten ${round.overwritten.length}`,
      );
    }
    return {
      rounds: result,
      staleReadings: result.reduce((n, r) => n + r.stale.length, 0),
      overwrittenMachines: result.reduce((n, r) => n + r.overwritten.length, 0),
    };
  } finally {
    await nc.close();
  }
}

/** Workers heard over 1.5 s (unfenced ones only, if asked), sorted by id. */
async function liveWorkers(nc: NatsConnection, unfencedOnly = false): Promise<string[]> {
  const ids = new Set<string>();
  const sub = nc.subscribe(subjects.heartbeat, {
    callback: (_e, msg) => {
      const hb = heartbeatSchema.safeParse(msg.json());
      if (hb.success && (!unfencedOnly || !hb.data.fenced) && hb.data.actors > 0) ids.add(hb.data.workerId);
    },
  });
  await sleep(1_500);
  sub.unsubscribe();
  return [...ids].sort();
}
