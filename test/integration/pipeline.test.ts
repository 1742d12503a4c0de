import { createHash, randomUUID } from 'node:crypto';
import mqtt from 'mqtt';
import { describe, expect, it } from 'vitest';
import { formatAddress, paths } from '../../common/config.js';
import { readCredentials } from '../../common/credentials.js';
import { silentLogger } from '../../common/log.js';
import { TOPICS } from '../../common/topics.js';
import { readHealthz } from '../../infra/servers/pipeline.js';
import { readPidFile, stopProcess, waitFor } from '../../infra/supervisor/process.js';
import { pipelineInflux } from '../../pipeline/influx.js';
import { pipelineKafka } from '../../pipeline/kafka.js';
import { type Expectation, verifyLoss } from '../../pipeline/verify.js';
import { factory, keeperPaused, testConfig } from './stack-env.js';
import { startRig } from './test-rig.js';

const config = testConfig();
const url = `mqtt://${formatAddress(config.mqtt)}`;
/** This run's machine ids are its own: a rerun against the same stack starts every seq at 1. */
const run = randomUUID().slice(0, 4);
const influx = pipelineInflux(config, 'reader');
const kafka = pipelineKafka(config, 'pipeline-test', silentLogger, 'admin');

/** A rig of `count` external machines on plant-1/line-1 streaming every 100 ms. */
const stream = (prefix: string, count: number) => startRig(config, { prefix: `${prefix}${run}`, count });

async function expectNoLoss(expected: Map<string, Expectation>, label: string) {
  const report = await verifyLoss({ influx, kafka, expected, waitMs: 120_000 });
  const lost = report.machines
    .filter((m) => m.lost.length > 0)
    .map((m) => `${m.machineId}: ${JSON.stringify(m.lost)}`);
  expect(lost, label).toEqual([]);
  expect(report.totals.stored).toBe(report.totals.published);
  process.stdout.write(`[pipeline] ${label}: ${JSON.stringify(report.totals)}\n`);
  return report;
}

async function counters(role: 'bridge' | 'writer', n: number): Promise<Record<string, number>> {
  return (await readHealthz(config, role, n)).counters;
}

const pidOf = (name: string) => readPidFile(paths(config).pid(name))!;

async function restoreStack() {
  const r = await factory(['up']);
  expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
}

describe('ingestion without loss, against the real servers', () => {
  it('stores every seq of 50 streaming machines in InfluxDB', async () => {
    const s = await stream('A', 50);
    expect(s.machines).toHaveLength(50);
    await s.runFor(5_000);
    const report = await expectNoLoss(await s.finish(), '50 machines');
    expect(report.totals.published).toBeGreaterThanOrEqual(5_000);
  });

  it('loses nothing when a bridge is killed with SIGKILL mid-stream and restarted', async () => {
    const s = await stream('B', 20);
    await s.runFor(1_000);
    const victim = pidOf('bridge-1');
    process.kill(victim.pid, 'SIGKILL');
    await s.runFor(1_000); // bridge-2 carries on; bridge-1's session queues its share
    await restoreStack(); // the keeper has usually restarted it already; `up` confirms all is healthy
    expect(pidOf('bridge-1').pid).not.toBe(victim.pid);
    await s.runFor(1_000);
    await expectNoLoss(await s.finish(), 'bridge killed');
  });

  it('stops a bridge and the writer gracefully on SIGTERM mid-stream, finishing what they hold', async () => {
    const s = await stream('G', 20);
    await s.runFor(1_000);
    const stops = await Promise.all([
      stopProcess(pidOf('bridge-2'), 25_000),
      stopProcess(pidOf('writer-1'), 25_000),
    ]);
    expect(stops).toEqual(['stopped', 'stopped']); // exited by themselves, no KILL needed
    await s.runFor(500);
    await restoreStack();
    await s.runFor(500);
    await expectNoLoss(await s.finish(), 'SIGTERM to bridge and writer');
  });

  it('loses nothing while InfluxDB is stopped for 15 s mid-stream', async () => {
    const s = await stream('C', 20);
    await s.runFor(1_000);
    const retriedBefore = (await counters('writer', 1)).retried ?? 0;
    await keeperPaused(async () => {
      await stopProcess(pidOf('influxdb'), 20_000);
      const stoppedAt = Date.now();
      expect(await waitFor(() => Date.now() - stoppedAt >= 15_000, 16_000)).toBe(true);
      expect((await counters('writer', 1)).retried ?? 0).toBeGreaterThan(retriedBefore); // it noticed, and waited
    });
    await restoreStack();
    await s.runFor(1_000);
    await expectNoLoss(await s.finish(), 'InfluxDB stopped 15 s');
  });

  it('loses nothing when Kafka is stopped and restarted mid-stream', async () => {
    const s = await stream('D', 20);
    await s.runFor(1_000);
    await keeperPaused(async () => {
      await stopProcess(pidOf('kafka'), 30_000);
      await s.runFor(500); // readings keep coming; the bridges hold them unacknowledged
    });
    await restoreStack();
    await s.runFor(1_000);
    await expectNoLoss(await s.finish(), 'Kafka restarted');
  });

  it('dead-letters a corpus of malformed payloads with reasons, and stores the valid stream beside it', async () => {
    const s = await stream('E', 10);
    await s.runFor(200);
    const now = Date.now();
    const good = {
      v: 1,
      site: 'plant-1',
      line: 'line-1',
      ts: now,
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
    const tag = randomUUID().slice(0, 6);
    const corpus: [string, string | Buffer, RegExp][] = [
      ['not-json', '{"v":1,', /not JSON/],
      ['nan', JSON.stringify(good).replace('"temperatureC":40', '"temperatureC":NaN'), /not JSON/],
      ['infinite', JSON.stringify(good).replace('"powerKw":10', '"powerKw":1e999'), /powerKw/],
      ['wrong-type', JSON.stringify({ ...good, seq: 'seven' }), /seq/],
      ['missing', JSON.stringify({ ...good, oee: undefined }), /oee/],
      ['version', JSON.stringify({ ...good, v: 2 }), /unknown schema version/],
      ['oversized', Buffer.alloc(20_000, 0x20), /oversized/],
      ['past', JSON.stringify({ ...good, ts: now - 30 * 24 * 3600 * 1000 }), /older than/],
      ['future', JSON.stringify({ ...good, ts: now + 3600 * 1000 }), /in the future/],
      ['mismatch', JSON.stringify({ ...good, machineId: 'E-9999' }), /does not match/],
    ];
    const ids = corpus.map(([name]) => `X-${tag}-${name}`);
    const gw = await mqtt.connectAsync(url, {
      ...readCredentials(config).mqttGateways['plant-1/line-1']!,
      protocolVersion: 5,
    });
    for (const [i, [name, payload]] of corpus.entries()) {
      const id = ids[i]!;
      const body =
        typeof payload === 'string' && name !== 'mismatch'
          ? payload.replace('"v":1,"site"', `"v":1,"machineId":"${id}","site"`)
          : payload;
      await gw.publishAsync(`factory/plant-1/line-1/${id}/telemetry`, body, { qos: 1 });
    }
    await gw.endAsync();
    await s.runFor(200);

    const found = new Map<string, { reason: string; raw: Buffer; headers: Record<string, string> }>();
    const consumer = kafka.consumer({ groupId: `dlq-test-${tag}` });
    await consumer.connect();
    await consumer.subscribe({ topic: TOPICS.telemetryDlq, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        const key = message.key?.toString() ?? '';
        if (ids.includes(key))
          found.set(key, {
            reason: String(message.headers?.reason ?? ''),
            raw: message.value!,
            headers: Object.fromEntries(
              Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v)]),
            ),
          });
      },
    });
    const all = await waitFor(() => found.size === ids.length, 60_000);
    await consumer.disconnect();
    expect([...found.keys()].sort(), `dead-lettered: ${[...found.keys()]}`).toEqual([...ids].sort());
    expect(all).toBe(true);
    for (const [i, [name, payload, reason]] of corpus.entries()) {
      const entry = found.get(ids[i]!)!;
      expect(entry.reason, name).toMatch(reason);
      if (name === 'oversized') {
        // A bounded copy: the first 16 KiB of the raw bytes, with the original's size and hash.
        expect(entry.raw.equals((payload as Buffer).subarray(0, 16 * 1024))).toBe(true);
        expect(entry.headers).toMatchObject({
          originalBytes: '20000',
          truncated: 'true',
          sha256: createHash('sha256').update(payload).digest('hex'),
          code: 'oversized',
          stage: 'bridge',
        });
      }
    }
    await expectNoLoss(await s.finish(), 'valid stream beside malformed payloads');
  });
});
