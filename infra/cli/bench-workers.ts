/**
 * `factory bench --failover`: on the running stack, kills a worker with SIGKILL again and again
 * and measures, for each of its machines, the time from the kill to the first reading the
 * broker receives from the machine's new owner (a seq above the dead owner's reservation: no
 * one else could have numbered it). Then a worker joins and leaves (`factory scale`): the time
 * until every shard is owned and every machine hosted again, and the seq gaps a graceful
 * hand-off cost (none expected). The reference measured in the same run: the group session
 * timeout, the floor of failure detection.
 */
import { randomUUID } from 'node:crypto';
import mqtt from 'mqtt';
import type { NatsConnection } from 'nats';
import type { Config } from '../../common/config.js';
import { formatAddress, paths } from '../../common/config.js';
import { readCredentials } from '../../common/credentials.js';
import { type Heartbeat, heartbeatSchema, subjects } from '../../common/machine-commands.js';
import { connectNats } from '../../common/nats.js';
import { FleetRegistry } from '../../common/registry.js';
import { sampleQuantile } from '../../common/runtime.js';
import { SnapshotStore } from '../../workers/snapshot-store.js';
import type { Output } from '../supervisor/output.js';
import { isAlive, readPidFile, waitFor } from '../supervisor/process.js';
import { StackError, scale } from '../supervisor/stack.js';

export interface FailoverBenchResult {
  workers: number;
  machines: number;
  sessionTimeoutMs: number;
  kills: { worker: string; machines: number; p50Ms: number; maxMs: number; settledMs: number }[];
  /** Kill → first reading from the new owner, over every machine of every kill. */
  failoverMs: { p50: number; p90: number; max: number; samples: number };
  /** Failover p50 over the session timeout (detection alone would be 1.0). */
  ratioToSessionTimeout: number;
  rebalance: {
    /** `scale` to one more worker → its first heartbeat (a new Node process starting and joining). */
    joinStartMs: number;
    /** Its first heartbeat → every shard owned, every machine hosted, the new worker serving. */
    joinMs: number;
    /** `scale` back → the same; the leaving worker hands over first. */
    leaveMs: number;
    /** Seq gaps new owners announced during join and leave (a clean hand-off announces none). */
    gapsDuringRebalance: number;
  };
}

class Heartbeats {
  readonly latest = new Map<string, Heartbeat & { at: number }>();
  readonly firstSeen = new Map<string, number>();
  constructor(nc: NatsConnection) {
    nc.subscribe(subjects.heartbeat, {
      callback: (_e, msg) => {
        const hb = heartbeatSchema.safeParse(msg.json());
        if (!hb.success) return;
        this.latest.set(hb.data.workerId, { ...hb.data, at: Date.now() });
        if (!this.firstSeen.has(hb.data.workerId)) this.firstSeen.set(hb.data.workerId, Date.now());
      },
    });
  }
  /** Workers heard within the last 2 s. */
  live(): (Heartbeat & { at: number })[] {
    return [...this.latest.values()].filter((h) => Date.now() - h.at < 2_000);
  }
  /** Every shard owned once, every machine hosted, nobody fenced, `workers` live. */
  settled(workers: number, machines: number, shards: number): boolean {
    const live = this.live();
    const owned = live.flatMap((h) => h.shards);
    return (
      live.length === workers &&
      owned.length === shards &&
      new Set(owned).size === shards &&
      live.every((h) => !h.fenced) &&
      live.reduce((n, h) => n + h.actors, 0) === machines
    );
  }
}

const quiet: Output = { line: () => {}, progress: () => {} };

export async function benchFailover(
  config: Config,
  kills: number,
  out: Output,
): Promise<FailoverBenchResult> {
  const nc = await connectNats(config, 'factory-bench-failover', 'admin').catch(() => {
    throw new StackError('Cannot reach NATS: start the stack with "factory up" first.');
  });
  const mq = await mqtt.connectAsync(`mqtt://${formatAddress(config.mqtt)}`, {
    ...readCredentials(config).mqtt,
    clientId: `bench-failover-${randomUUID().slice(0, 8)}`,
  });
  try {
    const keeper = readPidFile(paths(config).pid('keeper'));
    if (!keeper || !isAlive(keeper))
      throw new StackError(
        'The keeper is not running: the benchmark needs it to restart the killed workers ("factory up").',
      );
    const registry = await FleetRegistry.open(nc);
    const machines = [...(await registry.machines()).values()].filter(
      (m) => m.retiredAt === null && !m.external,
    ).length;
    const shards = config.partitions.commands;
    const beats = new Heartbeats(nc);
    await new Promise((r) => setTimeout(r, 2_500));
    const workers = beats.live().length;
    if (workers < 2)
      throw new StackError('The failover benchmark needs at least 2 workers: "factory scale --workers 3".');
    if (!(await waitFor(() => beats.settled(workers, machines, shards), 60_000, 200)))
      throw new StackError('The workers do not host every machine: check "factory status" first.');
    const store = await SnapshotStore.open(nc);

    // The first reading above a threshold, per machine, as the broker delivers it.
    const watching = new Map<string, { above: number; at?: number }>();
    let announcedGaps = 0;
    mq.on('message', (topic, payload) => {
      if (topic.endsWith('/events')) {
        announcedGaps++;
        return;
      }
      const t = JSON.parse(payload.toString()) as { machineId: string; seq: number };
      const w = watching.get(t.machineId);
      if (w && w.at === undefined && t.seq > w.above) w.at = Date.now();
    });
    await mq.subscribeAsync(['factory/+/+/+/telemetry', 'factory/+/+/+/events'], { qos: 0 });

    const all: number[] = [];
    const perKill: FailoverBenchResult['kills'] = [];
    for (let k = 0; k < kills; k++) {
      const worker = `worker-${(k % workers) + 1}`;
      const snaps = await store.all();
      const victims = [...snaps.values()].filter((e) => e.value.owner === worker && !e.value.released);
      watching.clear();
      for (const v of victims) watching.set(v.value.machineId, { above: v.value.reservedUpTo });
      const record = readPidFile(paths(config).pid(worker));
      if (!record || !isAlive(record)) throw new StackError(`${worker} is not running.`);
      const killedAt = Date.now();
      process.kill(record.pid, 'SIGKILL');
      const ok = await waitFor(() => [...watching.values()].every((w) => w.at !== undefined), 60_000, 20);
      if (!ok)
        throw new StackError(
          `After killing ${worker}, some of its machines never published from a new owner.`,
        );
      const times = [...watching.values()].map((w) => w.at! - killedAt);
      all.push(...times);
      if (!(await waitFor(() => beats.settled(workers, machines, shards), 120_000, 200)))
        throw new StackError(`The stack did not settle after killing ${worker} (the keeper restarts it).`);
      perKill.push({
        worker,
        machines: victims.length,
        p50Ms: sampleQuantile(times, 0.5),
        maxMs: Math.max(...times),
        settledMs: Date.now() - killedAt,
      });
      out.line(
        `  kill ${k + 1}/${kills}: ${worker} (${victims.length} machines): p50 ${sampleQuantile(times, 0.5)} ms, max ${Math.max(...times)} ms`,
      );
      await new Promise((r) => setTimeout(r, 3_000)); // a heartbeat or two of calm between kills
    }

    const gapsBefore = announcedGaps;
    const newcomer = `worker-${workers + 1}`;
    beats.firstSeen.delete(newcomer);
    let t0 = Date.now();
    await scale(config, quiet, workers + 1);
    const joined = await waitFor(
      () =>
        beats.settled(workers + 1, machines, shards) && (beats.latest.get(newcomer)?.shards.length ?? 0) > 0,
      120_000,
      100,
    );
    const firstBeat = beats.firstSeen.get(newcomer) ?? t0;
    const joinStartMs = firstBeat - t0;
    const joinMs = Date.now() - firstBeat;
    t0 = Date.now();
    await scale(config, quiet, workers);
    const left = await waitFor(() => beats.settled(workers, machines, shards), 120_000, 100);
    const leaveMs = Date.now() - t0;
    if (!joined || !left)
      throw new StackError('A worker joining or leaving did not settle within 2 minutes.');
    await new Promise((r) => setTimeout(r, 1_000)); // a late announcement still counts
    out.line(
      `  rebalance: a worker joining settled ${joinMs} ms after its first heartbeat (${joinStartMs} ms to start it), leaving in ${leaveMs} ms`,
    );

    const p50 = sampleQuantile(all, 0.5);
    return {
      workers,
      machines,
      sessionTimeoutMs: config.workers.sessionTimeoutMs,
      kills: perKill,
      failoverMs: { p50, p90: sampleQuantile(all, 0.9), max: Math.max(...all), samples: all.length },
      ratioToSessionTimeout: p50 / config.workers.sessionTimeoutMs,
      rebalance: { joinStartMs, joinMs, leaveMs, gapsDuringRebalance: announcedGaps - gapsBefore },
    };
  } finally {
    await mq.endAsync();
    await nc.close();
  }
}
