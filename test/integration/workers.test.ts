import { randomUUID } from 'node:crypto';
import mqtt, { type MqttClient } from 'mqtt';
import type { NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RegisteredMachine } from '../../actors/registry.js';
import { formatAddress, paths } from '../../common/config.js';
import { readCredentials } from '../../common/credentials.js';
import { silentLogger } from '../../common/log.js';
import { type Heartbeat, subjects } from '../../common/machine-commands.js';
import { connectNats } from '../../common/nats.js';
import { partitionOf } from '../../common/partitioner.js';
import { FleetRegistry } from '../../common/registry.js';
import { TOPICS } from '../../common/topics.js';
import { pauseRound } from '../../infra/cli/bench-pause.js';
import { readPidFile, waitFor } from '../../infra/supervisor/process.js';
import { pipelineKafka, reliableProducer } from '../../pipeline/kafka.js';
import { MODEL_VERSION, type SnapshotEntry, SnapshotStore } from '../../workers/snapshot-store.js';
import { factory, keeperPaused, testConfig } from './stack-env.js';
import { startRig } from './test-rig.js';

/**
 * Sharded workers against the real servers (Kafka group, NATS KV and subjects, Mosquitto):
 * 300 machines on 3 worker processes, then kills, pauses, a joining worker, forgeries and a
 * fleet that shrinks and grows.
 */
const config = testConfig();
const SHARDS = config.partitions.commands;
const MACHINES = 300;
let nc: NatsConnection;

const pidOf = (name: string) => readPidFile(paths(config).pid(name))!;

async function activeMachines(): Promise<RegisteredMachine[]> {
  const all = await (await FleetRegistry.open(nc)).machines();
  return [...all.values()].filter((m) => m.retiredAt === null && !m.external);
}

async function snapshots(): Promise<Map<string, SnapshotEntry>> {
  const all = await (await SnapshotStore.open(nc)).all();
  return new Map([...all].map(([id, e]) => [id, e.value]));
}

/** The latest heartbeat of each live worker, over `ms`. */
async function heartbeats(ms = 2_500): Promise<Map<string, Heartbeat>> {
  const out = new Map<string, Heartbeat>();
  const sub = nc.subscribe(subjects.heartbeat, {
    callback: (_e, msg) => {
      const hb = msg.json<Heartbeat>();
      out.set(hb.workerId, hb);
    },
  });
  await new Promise((r) => setTimeout(r, ms));
  sub.unsubscribe();
  return out;
}

const hostedCount = async () => [...(await heartbeats(1_500)).values()].reduce((n, h) => n + h.actors, 0);

/** Every answer to a query of each machine within `ms`: the owner only ever answers. */
async function queryAll(ids: string[], ms = 2_000): Promise<Map<string, Record<string, unknown>[]>> {
  const inbox = `_INBOX.workers-test.${randomUUID().slice(0, 8)}`;
  const answers = new Map<string, Record<string, unknown>[]>(ids.map((id) => [id, []]));
  const sub = nc.subscribe(`${inbox}.>`, {
    callback: (_e, msg) => {
      const a = msg.json<Record<string, unknown>>();
      answers.get(String(a.machineId))?.push(a);
    },
  });
  for (const id of ids) nc.publish(subjects.query(id), '', { reply: `${inbox}.${id}` });
  await nc.flush();
  await new Promise((r) => setTimeout(r, ms));
  sub.unsubscribe();
  return answers;
}

/** Telemetry as it arrives at the broker: per machine, [seq, ts, arrival] in arrival order. */
async function watchTelemetry(): Promise<{
  seen: Map<string, [number, number, number][]>;
  stop: () => Promise<void>;
}> {
  const seen = new Map<string, [number, number, number][]>();
  const client: MqttClient = await mqtt.connectAsync(`mqtt://${formatAddress(config.mqtt)}`, {
    ...readCredentials(config).mqtt,
    clientId: `workers-test-${randomUUID().slice(0, 8)}`,
  });
  client.on('message', (_t, payload) => {
    const t = JSON.parse(payload.toString()) as { machineId: string; seq: number; ts: number };
    const list = seen.get(t.machineId) ?? [];
    list.push([t.seq, t.ts, Date.now()]);
    seen.set(t.machineId, list);
  });
  await client.subscribeAsync('factory/+/+/+/telemetry', { qos: 0 });
  return { seen, stop: () => client.endAsync() };
}

async function verifyJson(env: Record<string, string> = {}) {
  const r = await factory(['verify', '--json', '--wait', '60'], env);
  return { code: r.code, stderr: r.stderr, report: JSON.parse(r.stdout) as VerifyReport };
}

interface VerifyReport {
  ok: boolean;
  totals: Record<string, number>;
  machines: {
    machineId: string;
    lost: [number, number][];
    failoverGaps: [number, number][];
    conflicting: [number, number][];
    unhosted?: string;
  }[];
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function upTo(machines: number, workers: number) {
  const r = await factory(['up', '--machines', String(machines), '--workers', String(workers)]);
  expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
  expect(await waitFor(async () => (await hostedCount()) === machines, 90_000, 500)).toBe(true);
}

beforeAll(async () => {
  nc = await connectNats(config, 'workers-test', 'admin');
  await upTo(MACHINES, 3);
}, 300_000);

afterAll(async () => {
  // The suite's other files expect the default: 10 machines on 2 workers.
  await factory(['scale', '--workers', '2']);
  await factory(['up', '--machines', '10']);
  await nc.close();
}, 300_000);

describe('sharded workers', () => {
  it(`3 workers, ${MACHINES} machines: each hosted exactly once (heartbeats, queries, telemetry)`, async () => {
    const hb = await heartbeats();
    expect([...hb.keys()].sort()).toEqual(['worker-1', 'worker-2', 'worker-3']);
    const shards = [...hb.values()].flatMap((h) => h.shards).sort((a, b) => a - b);
    expect(shards).toEqual(Array.from({ length: SHARDS }, (_, i) => i)); // every shard once
    expect([...hb.values()].reduce((n, h) => n + h.actors, 0)).toBe(MACHINES);

    const ids = (await activeMachines()).map((m) => m.machineId);
    expect(ids).toHaveLength(MACHINES);
    const ownerOfShard = new Map(
      [...hb.values()].flatMap((h) => h.shards.map((s) => [s, h.workerId] as const)),
    );
    const answers = await queryAll(ids);
    for (const id of ids) {
      const a = answers.get(id)!;
      expect(a, id).toHaveLength(1); // one voice: the owner's
      expect(a[0]!.owner, id).toBe(ownerOfShard.get(partitionOf(id, SHARDS)));
    }

    const t = await watchTelemetry();
    expect(await waitFor(() => ids.every((id) => (t.seen.get(id)?.length ?? 0) >= 2), 20_000)).toBe(true);
    await t.stop();
    for (const id of ids) {
      const seqs = t.seen.get(id)!.map(([s]) => s);
      // One owner: each seq once, rising (two owners would interleave or repeat numbers).
      expect(seqs, id).toEqual([...new Set(seqs)].sort((a, b) => a - b));
    }
  });

  it('kill -9 of a worker: its machines publish again from the others, no seq twice, verify passes with announced gaps', async () => {
    const before = await snapshots();
    const victims = [...before.values()]
      .filter((s) => s.owner === 'worker-2' && !s.released)
      .map((s) => s.machineId);
    expect(victims.length).toBeGreaterThan(20);
    const t = await watchTelemetry();
    const failoverMs: number[] = [];
    await keeperPaused(async () => {
      const killedAt = Date.now();
      process.kill(pidOf('worker-2').pid, 'SIGKILL');
      // A new owner numbers above the old reservation: the first such reading is the failover.
      const newOwner = (id: string) =>
        t.seen.get(id)?.find(([seq, , at]) => at >= killedAt && seq > before.get(id)!.reservedUpTo);
      expect(await waitFor(() => victims.every(newOwner), 30_000, 50)).toBe(true);
      for (const id of victims) failoverMs.push(newOwner(id)![2] - killedAt);
    });
    await t.stop();
    process.stdout.write(
      `[workers] failover after SIGKILL of worker-2 (${victims.length} machines): p50 ${median(failoverMs)} ms, max ${Math.max(...failoverMs)} ms\n`,
    );
    for (const id of victims) {
      const seqs = t.seen.get(id)!.map(([s]) => s);
      expect(new Set(seqs).size, id).toBe(seqs.length);
    }
    const up = await factory(['up']);
    expect(up.code, up.stderr).toBe(0);
    const { code, report, stderr } = await verifyJson();
    expect(report.totals.lost, JSON.stringify(report.totals)).toBe(0);
    expect(report.totals.conflicting).toBe(0);
    expect(code, stderr).toBe(0);
    const byId = new Map(report.machines.map((m) => [m.machineId, m]));
    for (const id of victims) expect(byId.get(id)!.failoverGaps.length, id).toBeGreaterThan(0);
  });

  it('a 4th worker joins: shards move to it, and 1,000 commands sent meanwhile are each applied exactly once', async () => {
    const machines = (await activeMachines()).map((m) => m.machineId);
    const applied = async () =>
      new Map(
        [...(await queryAll(machines))].map(([id, a]) => [id, Number(a[0]?.commandsApplied ?? Number.NaN)]),
      );
    const before = await applied();
    expect([...before.values()].every(Number.isFinite)).toBe(true);

    const answers = new Map<string, Record<string, unknown>>();
    const sub = nc.subscribe(subjects.answer('*'), {
      callback: (_e, msg) => {
        const a = msg.json<Record<string, unknown>>();
        answers.set(String(a.commandId), a);
      },
    });
    const producer = reliableProducer(pipelineKafka(config, 'workers-test', silentLogger, 'admin'));
    await producer.connect();
    const sent = new Map<string, number>();
    let scaling: Promise<{ code: number | null }> | undefined;
    try {
      for (let batch = 0; batch < 20; batch++) {
        const messages = Array.from({ length: 50 }, (_, i) => {
          const n = batch * 50 + i;
          const machineId = machines[n % machines.length]!;
          sent.set(machineId, (sent.get(machineId) ?? 0) + 1);
          const commandId = `cmd-${n}-${randomUUID().slice(0, 6)}`;
          const record = {
            v: 1,
            commandId,
            machineId,
            command: { type: 'SET_SPEED', rpm: 800 + (n % 300) },
            replyTo: subjects.answer(commandId),
            by: 'workers-test',
            ts: Date.now(),
          };
          return { key: machineId, value: JSON.stringify(record) };
        });
        await producer.send({ topic: TOPICS.machineCommands, acks: -1, messages });
        if (batch === 3) scaling = factory(['scale', '--workers', '4']);
        await new Promise((r) => setTimeout(r, 250));
      }
      expect((await scaling!).code).toBe(0);
      expect(await waitFor(() => answers.size >= 1_000, 60_000, 200)).toBe(true);
    } finally {
      await producer.disconnect();
      sub.unsubscribe();
    }
    expect(answers.size).toBe(1_000);
    // Every machine answers again once the rebalance has settled.
    let after = new Map<string, number>();
    const settled = async () => {
      after = await applied();
      return [...after.values()].every(Number.isFinite);
    };
    expect(await waitFor(settled, 60_000, 500)).toBe(true);
    for (const id of machines) expect(after.get(id)! - before.get(id)!, id).toBe(sent.get(id) ?? 0);
    const hb = await heartbeats();
    expect(hb.get('worker-4')?.shards.length ?? 0).toBeGreaterThan(0);
    expect([...hb.values()].flatMap((h) => h.shards)).toHaveLength(SHARDS);
  });

  it('a worker paused past its session publishes nothing more on resume; the new owner state and seq stand (3 rounds)', async () => {
    // The same rounds as `factory bench --pause-soak` (20 there): a race the fence must win every time.
    for (const worker of ['worker-1', 'worker-2', 'worker-3']) {
      const round = await pauseRound(config, nc, worker);
      process.stdout.write(
        `[workers] pause of ${worker} (${round.machines} machines): taken over in ${round.takenOverMs} ms, rejoined ${round.rejoinedMs} ms after resume, ${round.stale.length} stale readings\n`,
      );
      expect(round.machines).toBeGreaterThan(10);
      // Nothing it numbered from its old block was generated after the pause began.
      expect(round.stale, worker).toEqual([]);
      // The new owners' state stands: never overwritten with the paused worker's older one.
      expect(round.overwritten, worker).toEqual([]);
      // Every worker back and hosting before the next round.
      expect(await waitFor(async () => (await hostedCount()) === MACHINES, 60_000, 500)).toBe(true);
    }
  }, 300_000);

  it('verify fails for a forged status, a forged skip event from another line, a conflicting duplicate', async () => {
    const rig = await startRig(config, { prefix: `F${randomUUID().slice(0, 4)}`, count: 1 });
    await rig.runFor(20);
    const [machineId, { published: last }] = [...(await rig.finish())][0]!;
    // Register it again (finish removed it) and vouch, as its owner, for ten readings more than
    // were ever stored: those ten are lost.
    const registry = await FleetRegistry.open(nc);
    await registry.registerExternal([{ machineId, site: 'plant-1', line: 'line-1' }]);
    const store = await SnapshotStore.open(nc);
    const entry: SnapshotEntry = {
      v: 1,
      machineId,
      type: 'external',
      modelVersion: MODEL_VERSION,
      owner: 'workers-test',
      shard: 0,
      epoch: 0,
      seq: last + 10,
      published: last + 10,
      reservedUpTo: last + 10,
      gaps: [],
      commands: { offset: -1, applied: 0 },
      released: false,
      savedAt: Date.now(),
      context: {},
    };
    await store.write(entry, 0);
    const creds = readCredentials(config);
    const url = `mqtt://${formatAddress(config.mqtt)}`;
    const line1 = await mqtt.connectAsync(url, {
      ...creds.mqttGateways['plant-1/line-1']!,
      protocolVersion: 5,
    });
    const line2 = await mqtt.connectAsync(url, {
      ...creds.mqttGateways['plant-1/line-2']!,
      protocolVersion: 5,
    });
    const statusTopic = 'factory/plant-1/line-1/status/forged';
    try {
      // (a) A status any line account can write, claiming nothing more was published.
      await line1.publishAsync(statusTopic, JSON.stringify({ online: true, seqs: { [machineId]: last } }), {
        qos: 1,
        retain: true,
      });
      let r = await factory(['verify', '--wait', '3']);
      expect(r.code).toBe(1);
      expect(r.stdout).toContain(`${machineId}: lost ${last + 1}-${last + 10}`);

      // (b) Line 2's account announcing a gap for a line-1 machine: refused, and no excuse.
      await line2.publishAsync(
        `factory/plant-1/line-2/${machineId}/events`,
        JSON.stringify({
          v: 1,
          type: 'resume',
          machineId,
          epoch: 9,
          skippedFrom: last + 1,
          skippedTo: last + 10,
          ts: Date.now(),
        }),
        { qos: 1 },
      );
      r = await factory(['verify', '--wait', '3']);
      expect(r.code).toBe(1);
      expect(r.stdout).toContain(`${machineId}: lost ${last + 1}-${last + 10}`);

      // (c) The same seq again with other content.
      await store.write(
        { ...entry, seq: last, published: last, reservedUpTo: last },
        await store.revisionOf(machineId),
      );
      const forged = {
        v: 1,
        site: 'plant-1',
        line: 'line-1',
        machineId,
        ts: Date.now(),
        seq: 3,
        state: 'RUNNING',
        temperatureC: 99.5,
        speedRpm: 1000,
        vibrationMmS: 2,
        powerKw: 10,
        productionCount: 3,
        goodCount: 3,
        oee: 0.8,
      };
      await line1.publishAsync(`factory/plant-1/line-1/${machineId}/telemetry`, JSON.stringify(forged), {
        qos: 1,
      });
      const conflict = async () => {
        const v = await factory(['verify', '--wait', '3']);
        return (
          v.code === 1 &&
          v.stdout.includes(`${machineId}: conflicting duplicate (same seq, different content) at 3`)
        );
      };
      expect(await waitFor(conflict, 60_000, 1_000)).toBe(true);
    } finally {
      await line1.publishAsync(statusTopic, '', { qos: 1, retain: true });
      await line1.endAsync();
      await line2.endAsync();
      await store.kv.delete(machineId);
      await registry.unregisterExternal([machineId]);
    }
    const clean = await factory(['verify', '--wait', '30']);
    expect(clean.code, clean.stdout).toBe(0);
  });

  it('verify fails for machines whose workers died and never came back', async () => {
    await keeperPaused(async () => {
      for (const w of ['worker-1', 'worker-2', 'worker-3', 'worker-4']) process.kill(pidOf(w).pid, 'SIGKILL');
      // Snapshots here are saved every 10 s; told every 3 s, verify calls 25 s of silence "no owner".
      const unhosted = async () => {
        const { code, report } = await verifyJson({ FACTORY_SNAPSHOT_EVERY_MS: '3000' });
        return code === 1 && report.totals.unhosted === MACHINES;
      };
      expect(await waitFor(unhosted, 90_000, 2_000)).toBe(true);
    });
    await upTo(MACHINES, 4);
  });

  it('shrinking and growing the fleet keeps every surviving machine id, line, type and seq', async () => {
    const reg = await activeMachines();
    const snap = await snapshots();
    await upTo(100, 4);
    const small = await activeMachines();
    expect(small).toHaveLength(100);
    const identity = (m: RegisteredMachine) => `${m.machineId} ${m.site}/${m.line} ${m.type} ${m.seed}`;
    const was = new Set(reg.map(identity));
    for (const m of small) expect(was.has(identity(m)), m.machineId).toBe(true);

    await upTo(MACHINES, 4);
    const big = await activeMachines();
    expect(big.map(identity).sort()).toEqual(reg.map(identity).sort());
    // Every machine, survivor or revived, numbers on from where it was: never from 1 again.
    const t = await watchTelemetry();
    const ids = big.map((m) => m.machineId);
    expect(await waitFor(() => ids.every((id) => (t.seen.get(id)?.length ?? 0) >= 1), 20_000)).toBe(true);
    await t.stop();
    for (const id of ids) expect(t.seen.get(id)![0]![0], id).toBeGreaterThan(snap.get(id)!.seq);
  });
});
