import { randomUUID } from 'node:crypto';
import type { Consumer, Producer } from 'kafkajs';
import mqtt from 'mqtt';
import type { NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RegisteredMachine } from '../../actors/registry.js';
import { AnalyticsStore } from '../../analytics/store.js';
import { formatAddress, paths } from '../../common/config.js';
import { readCredentials } from '../../common/credentials.js';
import { silentLogger } from '../../common/log.js';
import { subjects } from '../../common/machine-commands.js';
import { connectNats } from '../../common/nats.js';
import { partitionOf } from '../../common/partitioner.js';
import { classifyInflux, writeIsolating } from '../../common/poison.js';
import { FleetRegistry } from '../../common/registry.js';
import { TOPICS } from '../../common/topics.js';
import { readHealthz } from '../../infra/servers/pipeline.js';
import { readPidFile, waitFor } from '../../infra/supervisor/process.js';
import { pipelineInflux, telemetryPoint, writeRaw } from '../../pipeline/influx.js';
import { pipelineKafka, reliableProducer } from '../../pipeline/kafka.js';
import { factory, testConfig } from './stack-env.js';

/**
 * Hostile input, sent as a line's device account or as a local client, against the live stack:
 * each is dead-lettered with its reason and counted, and both lines' readings keep being
 * stored. Before issue 18 one event with `ts: 1` stopped all storage for both lines.
 */
const config = testConfig();
const url = `mqtt://${formatAddress(config.mqtt)}`;
const kafka = pipelineKafka(config, 'hostile-test', silentLogger, 'admin');
const influx = pipelineInflux(config, 'writer');
const tag = randomUUID().slice(0, 6);

let nc: NatsConnection;
let producer: Producer;
let dlqConsumer: Consumer;
let machines: RegisteredMachine[];
const dead: { key: string; headers: Record<string, string>; value: Buffer }[] = [];

const machineOn = (line: string) => machines.find((m) => m.line === line)!;

/** The dead letters that match, once at least `n` of them have arrived (or the deadline passed). */
async function deadLettered(match: (d: (typeof dead)[number]) => boolean, n = 1, ms = 30_000) {
  await waitFor(() => dead.filter(match).length >= n, ms, 100);
  return dead.filter(match);
}

/** Both lines still store readings: a point newer than `since` for a machine of each line. */
async function bothLinesStoring(since: number) {
  const newest = async (line: string) => {
    const rows = await influx.query<{ time: Date }>(
      `SELECT last(seq) FROM "raw"."telemetry" WHERE line = '${line}' AND time > ${since}ms`,
    );
    return rows.length > 0;
  };
  const lines = [...new Set(machines.map((m) => m.line))];
  expect(lines.length).toBeGreaterThanOrEqual(2);
  for (const line of lines)
    expect(await waitFor(() => newest(line), 30_000, 500), `line ${line} storing`).toBe(true);
}

async function lineAccount(line: string, clientId?: string) {
  return mqtt.connectAsync(url, {
    ...readCredentials(config).mqttGateways[`plant-1/${line}`]!,
    protocolVersion: 5,
    ...(clientId ? { clientId } : {}),
  });
}

beforeAll(async () => {
  const r = await factory(['up']);
  expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
  nc = await connectNats(config, 'hostile-test', 'admin');
  machines = [...(await (await FleetRegistry.open(nc)).machines()).values()].filter(
    (m) => m.retiredAt === null && !m.external,
  );
  producer = reliableProducer(kafka);
  await producer.connect();
  dlqConsumer = kafka.consumer({ groupId: `hostile-test-${tag}` });
  await dlqConsumer.connect();
  await dlqConsumer.subscribe({ topic: TOPICS.telemetryDlq, fromBeginning: false });
  await dlqConsumer.run({
    eachMessage: async ({ message }) => {
      dead.push({
        key: message.key?.toString() ?? '',
        value: message.value ?? Buffer.alloc(0),
        headers: Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v)])),
      });
    },
  });
  // The consumer is in its group before anything hostile is sent.
  await waitFor(
    async () => (await kafka.admin().describeGroups([`hostile-test-${tag}`])).groups[0]?.state === 'Stable',
    30_000,
  );
}, 300_000);

afterAll(async () => {
  await dlqConsumer?.disconnect();
  await producer?.disconnect();
  await nc?.close();
});

describe('hostile input from a device account or a local client', () => {
  it("a line's own device sends a machine event with ts 1: dead-lettered at the bridge, both lines keep storing", async () => {
    const m = machineOn('line-1');
    const gw = await lineAccount('line-1');
    const since = Date.now();
    const event = {
      v: 1,
      type: 'resume',
      machineId: m.machineId,
      epoch: 7,
      skippedFrom: 5,
      skippedTo: 6,
      ts: 1,
    };
    await gw.publishAsync(`factory/plant-1/line-1/${m.machineId}/events`, JSON.stringify(event), { qos: 1 });
    await gw.endAsync();
    const got = await deadLettered((d) => d.key === m.machineId && d.headers.code === 'too-old');
    expect(got[0]?.headers).toMatchObject({ stage: 'bridge', code: 'too-old' });
    expect(got[0]?.headers.reason).toMatch(/older than/);
    await bothLinesStoring(since);
  });

  it('records that reach Kafka without the bridge (retention age, ts 1, a 3 KB line) are dead-lettered by the writer and the dispatcher', async () => {
    const m = machineOn('line-2');
    const since = Date.now();
    const week = 7 * 24 * 3600 * 1000;
    const reading = {
      v: 1,
      site: 'plant-1',
      line: 'line-2',
      machineId: `H-${tag}-old`,
      ts: Date.now() - week,
      seq: 1,
      state: 'RUNNING',
      temperatureC: 40,
      speedRpm: 1000,
      vibrationMmS: 2,
      powerKw: 10,
      productionCount: 10,
      goodCount: 9,
      oee: 0.8,
    };
    const event = {
      v: 1,
      type: 'resume',
      machineId: `H-${tag}-ev`,
      epoch: 2,
      skippedFrom: 3,
      skippedTo: 4,
      ts: 1,
      site: 'plant-1',
      line: 'line-2',
    };
    const alarm = {
      v: 1,
      eventId: `${m.machineId}.temperature-high.9${tag.replace(/\D/g, '1')}#1`,
      alarmId: `${m.machineId}.temperature-high.9${tag.replace(/\D/g, '1')}`,
      transition: 'raised',
      state: 'UNACK_ACTIVE',
      machineId: m.machineId,
      site: 'plant-1',
      line: 'x'.repeat(3_000),
      machineType: null,
      rule: 'temperature-high',
      kind: 'limit',
      severity: 'critical',
      field: 'temperatureC',
      value: 99,
      limit: 90,
      ts: Date.now(),
      raisedAt: Date.now(),
      conditionSince: Date.now(),
      by: null,
      shelvedUntil: null,
      flood: null,
      message: 'hostile',
    };
    await producer.send({
      topic: TOPICS.telemetry,
      acks: -1,
      messages: [{ key: reading.machineId, value: JSON.stringify(reading) }],
    });
    await producer.send({
      topic: TOPICS.machineEvents,
      acks: -1,
      messages: [{ key: event.machineId, value: JSON.stringify(event) }],
    });
    await producer.send({
      topic: TOPICS.alarms,
      acks: -1,
      messages: [{ key: m.machineId, value: JSON.stringify(alarm) }],
    });
    const old = await deadLettered((d) => d.key === reading.machineId && d.headers.stage === 'writer');
    expect(old[0]?.headers.code).toBe('too-old');
    const ev = await deadLettered((d) => d.key === event.machineId && d.headers.stage === 'writer');
    expect(ev[0]?.headers.code).toBe('too-old');
    // The alarm event is refused by both of its consumers, each with its own copy.
    const stages = async () =>
      new Set(
        (await deadLettered((d) => d.value.toString().includes(alarm.eventId), 2)).map(
          (d) => d.headers.stage,
        ),
      );
    expect(await waitFor(async () => (await stages()).size === 2, 30_000)).toBe(true);
    expect([...(await stages())].sort()).toEqual(['dispatcher', 'writer']);
    await bothLinesStoring(since);
    const writer = (await readHealthz(config, 'writer', 1)).counters;
    expect(writer['deadLettered:too-old'] ?? 0).toBeGreaterThanOrEqual(2);
    expect(writer['deadLettered:schema'] ?? 0).toBeGreaterThanOrEqual(1);
  });

  it("InfluxDB's own refusal (400) costs the one point: the rest of the batch is stored", async () => {
    const base = Date.now();
    const points = Array.from({ length: 200 }, (_, i) => ({
      v: 1 as const,
      site: 'plant-1',
      line: 'line-1',
      machineId: `I-${tag}`,
      ts: i === 137 ? 1 : base - i,
      seq: i + 1,
      state: 'RUNNING' as const,
      temperatureC: 40,
      speedRpm: 1000,
      vibrationMmS: 2,
      powerKw: 10,
      productionCount: 10,
      goodCount: 9,
      oee: 0.8,
    }));
    const poisoned: number[] = [];
    await writeIsolating(points, {
      write: (part) => writeRaw(influx, part.map(telemetryPoint)),
      classify: classifyInflux,
      onPoison: (p, failure) => {
        poisoned.push(p.seq);
        expect(failure.reason).toMatch(/400/);
      },
      keepGoing: () => true,
      onRetry: () => {},
    });
    expect(poisoned).toEqual([138]);
    const rows = await influx.query<{ count: number }>(
      `SELECT count(seq) FROM "raw"."telemetry" WHERE machine = 'I-${tag}'`,
    );
    expect(rows[0]?.count).toBe(199);
  });

  it('a 60 KB payload is dead-lettered as a bounded copy; a 900 KB one is refused by the broker; the bridges carry on', async () => {
    const since = Date.now();
    const m = machineOn('line-1');
    const gw = await lineAccount('line-1');
    await gw.publishAsync(`factory/plant-1/line-1/${m.machineId}/telemetry`, Buffer.alloc(60_000, 0x7b), {
      qos: 1,
    });
    const [copy] = await deadLettered((d) => d.key === m.machineId && d.headers.originalBytes === '60000');
    expect(copy?.value.length).toBe(16 * 1024);
    expect(copy?.headers).toMatchObject({ code: 'oversized', truncated: 'true', stage: 'bridge' });
    // Over the broker's packet limit: the broker drops the connection instead of buffering it.
    const closed = new Promise<void>((r) => gw.once('close', () => r()));
    gw.publish(`factory/plant-1/line-1/${m.machineId}/telemetry`, Buffer.alloc(900_000, 0x7b), { qos: 1 });
    await closed;
    await gw.endAsync(true);
    await bothLinesStoring(since);
    for (const n of [1, 2]) expect((await readHealthz(config, 'bridge', n)).ok).toBe(true);
  });

  it('commands with an inherited type, on the wrong shard, or not a command at all are refused; no worker crash-loops', async () => {
    const m = machineOn('line-1');
    const pids = ['worker-1', 'worker-2'].map((w) => readPidFile(paths(config).pid(w))!.pid);
    const answers = new Map<string, { ok: boolean; reason?: string }>();
    const sub = nc.subscribe(`${subjects.answer('*')}`, {
      callback: (_e, msg) => {
        const a = msg.json<{ commandId: string; ok: boolean; reason?: string }>();
        answers.set(a.commandId, a);
      },
    });
    const envelope = (commandId: string, command: unknown) => ({
      v: 1,
      commandId,
      machineId: m.machineId,
      command,
      replyTo: subjects.answer(commandId),
      by: 'hostile-test',
      ts: Date.now(),
    });
    const home = partitionOf(m.machineId, config.partitions.commands);
    const inherited = `c-${tag}-inherited`;
    const wrongShard = `c-${tag}-shard`;
    await producer.send({
      topic: TOPICS.machineCommands,
      acks: -1,
      messages: [
        { key: m.machineId, value: JSON.stringify(envelope(inherited, { type: 'constructor' })) },
        {
          key: m.machineId,
          partition: (home + 1) % config.partitions.commands,
          value: JSON.stringify(envelope(wrongShard, { type: 'STOP' })),
        },
        { key: m.machineId, value: '{"v":1,"commandId":' },
      ],
    });
    expect(await waitFor(() => answers.has(inherited) && answers.has(wrongShard), 30_000)).toBe(true);
    expect(answers.get(inherited)).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/unknown command/),
    });
    expect(answers.get(wrongShard)).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/belongs on shard/),
    });
    const shard = await deadLettered((d) => d.headers.code === 'wrong-shard' && d.key === m.machineId);
    expect(shard[0]?.headers.stage).toBe('worker');
    expect(
      (await deadLettered((d) => d.headers.stage === 'worker' && d.headers.code === 'schema')).length,
    ).toBe(1);
    // The same workers, still serving: a good command is applied.
    const ok = await factory(['command', m.machineId, 'SET_SPEED', '--param', 'rpm=900']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(['worker-1', 'worker-2'].map((w) => readPidFile(paths(config).pid(w))!.pid)).toEqual(pids);
    sub.unsubscribe();
  });

  it("a skip announcement nobody recorded (an absurd range from the line's account) is dead-lettered by analytics, not applied", async () => {
    const m = machineOn('line-1');
    const gw = await lineAccount('line-1');
    const event = {
      v: 1,
      type: 'resume',
      machineId: m.machineId,
      epoch: 999,
      skippedFrom: 1,
      skippedTo: 9_000_000_000_000,
      ts: Date.now(),
    };
    await gw.publishAsync(`factory/plant-1/line-1/${m.machineId}/events`, JSON.stringify(event), { qos: 1 });
    await gw.endAsync();
    const got = await deadLettered((d) => d.key === m.machineId && d.headers.code === 'skip-range');
    expect(got[0]?.headers.stage).toBe('analytics');
    // Not applied: the machine's next expected seq (as analytics saves it) stays where its
    // readings are, far below the forged range's end.
    const store = await AnalyticsStore.open(nc);
    const saved = async () => (await store.load(m.machineId)).state?.reorder;
    await new Promise((r) => setTimeout(r, 6_000)); // past a checkpoint (every 5 s)
    const reorder = await saved();
    expect(reorder?.next ?? 0).toBeLessThan(1_000_000);
    expect(reorder?.skips ?? []).toEqual([]);
  });

  it("a device account cannot take over an internal process's MQTT session by guessing its id", async () => {
    const intruders = await Promise.all([
      lineAccount('line-1', 'bridge-1-lane-1'),
      lineAccount('line-1', 'bridge-1-control'),
      lineAccount('line-1', 'worker-1-plant-1-line-1'),
    ]);
    const since = Date.now();
    await new Promise((r) => setTimeout(r, 2_000));
    for (const n of [1, 2])
      expect((await readHealthz(config, 'bridge', n)).detail).toMatch(/^(\d+)\/\1 MQTT lanes/);
    for (const c of intruders) expect(c.connected).toBe(true); // they did not replace each other either
    await Promise.all(intruders.map((c) => c.endAsync()));
    await bothLinesStoring(since);
  });

  it('after all of it, factory verify finds nothing lost', async () => {
    const r = await factory(['verify', '--wait', '60']);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
  }, 180_000);
});
