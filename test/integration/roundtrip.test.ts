import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Client } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { InfluxDB } from 'influx';
import mqtt from 'mqtt';
import { afterAll, describe, expect, it } from 'vitest';
import { formatAddress } from '../../common/config.js';
import { readCredentials } from '../../common/credentials.js';
import { RETENTION, rollupQuery } from '../../common/influx-schema.js';
import { TELEMETRY_EXAMPLE } from '../../common/telemetry.js';
import { TOPICS } from '../../common/topics.js';
import { kafkaClient } from '../../infra/servers/kafka.js';
import { connectNats, SNAPSHOT_BUCKET } from '../../infra/servers/nats.js';
import { connectTemporal } from '../../infra/servers/temporal.js';
import { waitFor } from '../../infra/supervisor/process.js';
import { pipelineInflux, telemetryPoint, writeRaw } from '../../pipeline/influx.js';
import { testConfig } from './stack-env.js';

const config = testConfig();
Runtime.install({ logger: new DefaultLogger('WARN') });
const mqttUrl = `mqtt://${formatAddress(config.mqtt)}`;
const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

const connectMqtt = async (account: { username: string; password: string } | undefined) => {
  const c = await mqtt.connectAsync(mqttUrl, {
    ...account,
    protocolVersion: 5,
    reconnectPeriod: 0,
    connectTimeout: 5_000,
  });
  cleanups.push(() => c.endAsync(true));
  return c;
};

describe('mosquitto', () => {
  it('round-trips a QoS 1 message for the operator account', async () => {
    const c = await connectMqtt(readCredentials(config).mqtt);
    const topic = `factory/plant-1/line-1/M-TEST/telemetry`;
    const received: string[] = [];
    c.on('message', (_t, payload) => received.push(payload.toString()));
    await c.subscribeAsync(topic, { qos: 1 });
    const body = JSON.stringify({ nonce: randomUUID() });
    await c.publishAsync(topic, body, { qos: 1 });
    expect(await waitFor(() => received.includes(body), 5_000)).toBe(true);
  });

  it('refuses anonymous clients and wrong passwords', async () => {
    await expect(connectMqtt(undefined)).rejects.toThrow(/not authori[sz]ed|bad user name or password/i);
    await expect(connectMqtt({ username: 'operator', password: 'wrong-password' })).rejects.toThrow();
  });

  it('lets a gateway publish under its own line and nowhere else', async () => {
    const creds = readCredentials(config);
    const [line, gateway] = Object.entries(creds.mqttGateways)[0]!;
    const operator = await connectMqtt(creds.mqtt);
    const received: string[] = [];
    operator.on('message', (topic) => received.push(topic));
    await operator.subscribeAsync('factory/#', { qos: 1 });

    const gw = await connectMqtt(gateway);
    const own = `factory/${line}/M-0001/telemetry`;
    const foreign = 'factory/other-site/other-line/M-0001/telemetry';
    await gw.publishAsync(own, '{}', { qos: 1 });
    // MQTT 5 reports the refusal in the PUBACK: the publish rejects with "Not authorized".
    await expect(gw.publishAsync(foreign, '{}', { qos: 1 })).rejects.toThrow(/authori[sz]ed|135/i);
    expect(await waitFor(() => received.includes(own), 5_000)).toBe(true);
    await operator.publishAsync('factory/_probe/end', 'x', { qos: 1 });
    expect(await waitFor(() => received.includes('factory/_probe/end'), 5_000)).toBe(true);
    expect(received).not.toContain(foreign);
  });
});

describe('nats', () => {
  it('answers request/reply and fences KV writes by revision', async () => {
    const nc = await connectNats(config, 'roundtrip-test', 'admin');
    cleanups.push(() => nc.close());
    nc.subscribe('factory.machine.M-TEST.query', { callback: (_e, m) => m.respond(m.data) });
    const reply = await nc.request('factory.machine.M-TEST.query', 'hello', { timeout: 3_000 });
    expect(reply.string()).toBe('hello');

    const kv = await nc.jetstream().views.kv(SNAPSHOT_BUCKET, { bindOnly: true });
    const key = `M-${randomUUID().slice(0, 8)}`;
    const rev1 = await kv.create(key, new TextEncoder().encode('{"seq":1}'));
    const rev2 = await kv.update(key, new TextEncoder().encode('{"seq":2}'), rev1);
    // A second owner still holding rev1 must be refused: that is the fencing the actors rely on.
    await expect(kv.update(key, new TextEncoder().encode('{"seq":99}'), rev1)).rejects.toThrow(
      /wrong last sequence/i,
    );
    const entry = await kv.get(key);
    expect(entry?.revision).toBe(rev2);
    expect(entry?.string()).toBe('{"seq":2}');
  });
});

describe('kafka', () => {
  it('has the contract topics and round-trips a keyed record through a consumer group', async () => {
    const k = kafkaClient(config, 'roundtrip-test', 'admin');
    const admin = k.admin();
    await admin.connect();
    cleanups.push(() => admin.disconnect());
    const meta = await admin.fetchTopicMetadata({ topics: Object.values(TOPICS) });
    const partitions = Object.fromEntries(meta.topics.map((t) => [t.name, t.partitions.length]));
    expect(partitions[TOPICS.telemetry]).toBe(12);
    expect(partitions[TOPICS.machineCommands]).toBe(16);

    const producer = k.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    cleanups.push(() => producer.disconnect());
    const consumer = k.consumer({ groupId: `roundtrip-${randomUUID()}` });
    await consumer.connect();
    cleanups.push(() => consumer.disconnect());
    await consumer.subscribe({ topic: TOPICS.telemetry, fromBeginning: true });
    const nonce = randomUUID();
    const seen: string[] = [];
    await consumer.run({
      eachMessage: async ({ message }) => {
        seen.push(`${message.key?.toString()}:${message.value?.toString()}`);
      },
    });
    await producer.send({ topic: TOPICS.telemetry, acks: -1, messages: [{ key: 'M-TEST', value: nonce }] });
    expect(await waitFor(() => seen.includes(`M-TEST:${nonce}`), 60_000)).toBe(true);
  });
});

describe('influxdb', () => {
  it('refuses anonymous and wrong-password clients, and lets the reader read but not write', async () => {
    const base = { host: config.influx.host, port: config.influx.port, database: config.influxDb };
    const status = async (c: InfluxDB, work: (c: InfluxDB) => Promise<unknown>) =>
      work(c).then(
        () => 200,
        (e: { res?: { statusCode?: number } }) => e.res?.statusCode ?? -1,
      );
    const read = (c: InfluxDB) => c.query('SELECT last(seq) FROM raw.telemetry');
    const write = (c: InfluxDB) =>
      writeRaw(c, [
        telemetryPoint({ ...TELEMETRY_EXAMPLE, machineId: `A-${randomUUID().slice(0, 6)}`, ts: Date.now() }),
      ]);
    expect(await status(new InfluxDB(base), read)).toBe(401);
    expect(
      await status(new InfluxDB({ ...base, username: 'reader', password: 'not-the-password' }), read),
    ).toBe(401);
    const reader = pipelineInflux(config, 'reader');
    expect(await status(reader, read)).toBe(200);
    expect(await status(reader, write)).toBe(403);
    expect(await status(pipelineInflux(config, 'writer'), write)).toBe(200);
    // The writer reads too (analytics and the workflow worker read what they wrote).
    expect(await status(pipelineInflux(config, 'writer'), read)).toBe(200);
    // The writer may not drop the database (only the admin provisions).
    expect(await status(pipelineInflux(config, 'writer'), (c) => c.dropDatabase(config.influxDb))).toBe(403);
  });

  it('stores a telemetry point with the contract tags and fields in the 7-day policy', async () => {
    const influx = pipelineInflux(config, 'admin');
    const rps = await influx.showRetentionPolicies(config.influxDb);
    expect(rps.find((p) => p.name === RETENTION.raw.name)).toMatchObject({
      duration: '168h0m0s',
      default: true,
    });
    expect(rps.find((p) => p.name === RETENTION.rollup.name)).toMatchObject({ duration: '2160h0m0s' });

    const machine = `M-${randomUUID().slice(0, 8)}`;
    // Written exactly as the pipeline writes (typed fields: counts and seq are integers).
    await writeRaw(pipelineInflux(config, 'admin'), [
      telemetryPoint({ ...TELEMETRY_EXAMPLE, machineId: machine, ts: Date.now(), seq: 7 }),
    ]);
    const rows = await influx.query<{ temperature: number; seq: number; good_count: number; state: string }>(
      `SELECT temperature, seq, good_count, state FROM raw.telemetry WHERE machine = '${machine}'`,
    );
    expect(rows.map((r) => [r.temperature, r.seq, r.good_count, r.state])).toEqual([
      [45.2, 7, 1230, 'RUNNING'],
    ]);
  });

  it('has the 1-minute roll-up continuous query, and its query rolls raw data up', async () => {
    const influx = pipelineInflux(config, 'admin');
    const cqs = await influx.showContinousQueries(config.influxDb);
    const cq = rollupQuery(config.influxDb);
    expect(cqs.map((c) => c.name)).toContain(cq.name);
    // The continuous query fires once a minute; run its statement by hand over one minute.
    const machine = `R-${randomUUID().slice(0, 8)}`;
    const base = Math.floor(Date.now() / 60_000) * 60_000 - 120_000;
    await writeRaw(
      pipelineInflux(config, 'admin'),
      [0, 20_000, 40_000].map((dt, i) =>
        telemetryPoint({
          v: 1,
          site: 'plant-1',
          line: 'line-1',
          machineId: machine,
          ts: base + dt,
          seq: i + 1,
          state: 'RUNNING',
          temperatureC: 40 + i * 3,
          speedRpm: 1000,
          vibrationMmS: 2,
          powerKw: 10,
          productionCount: 10 * (i + 1),
          goodCount: 9 * (i + 1),
          oee: 0.9,
        }),
      ),
    );
    const bounded = cq.query.replace(
      ' GROUP BY',
      ` WHERE time >= ${base}ms AND time < ${base + 60_000}ms GROUP BY`,
    );
    await influx.query(bounded);
    const rows = await influx.query<{
      temperature: number;
      temperature_max: number;
      readings: number;
      production_count: number;
    }>(`SELECT * FROM "${RETENTION.rollup.name}"."telemetry_1m" WHERE machine = '${machine}'`);
    expect(rows.map((r) => [r.temperature, r.temperature_max, r.readings, r.production_count])).toEqual([
      [43, 46, 3, 30],
    ]);
  });
});

describe('temporal', () => {
  it('runs a workflow on a real worker and shows the UI', async () => {
    const taskQueue = `roundtrip-${randomUUID()}`;
    const nativeConnection = await NativeConnection.connect({ address: formatAddress(config.temporal) });
    cleanups.push(() => nativeConnection.close());
    const worker = await Worker.create({
      connection: nativeConnection,
      namespace: config.temporalNamespace,
      taskQueue,
      workflowsPath: fileURLToPath(new URL('./fixtures/echo-workflow.ts', import.meta.url)),
    });
    const connection = await connectTemporal(config);
    cleanups.push(() => connection.close());
    const client = new Client({ connection, namespace: config.temporalNamespace });
    const result = await worker.runUntil(
      client.workflow.execute('echo', { taskQueue, workflowId: `echo-${randomUUID()}`, args: ['ping'] }),
    );
    expect(result).toBe('echo:ping');

    const ui = await fetch(`http://${formatAddress(config.temporalUi)}/`);
    expect(ui.status).toBe(200);
  });
});
