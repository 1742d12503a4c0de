import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, describe, expect, it } from 'vitest';
import { deriveFleet, loadFleet } from '../../actors/index.js';
import { formatAddress, paths } from '../../common/config.js';
import { readCredentials } from '../../common/credentials.js';
import { silentLogger } from '../../common/log.js';
import { TOPICS } from '../../common/topics.js';
import { Gateway } from '../../firmware/gateway.js';
import { readHealthz } from '../../infra/servers/pipeline.js';
import { readPidFile, stopProcess, waitFor } from '../../infra/supervisor/process.js';
import { pipelineInflux } from '../../pipeline/influx.js';
import { pipelineKafka } from '../../pipeline/kafka.js';
import { verifyLoss } from '../../pipeline/verify.js';
import { factory, gatewayConfirm, keeperPaused, testConfig } from './stack-env.js';

const config = testConfig();
const url = `mqtt://${formatAddress(config.mqtt)}`;
const scratch = mkdtempSync(join(tmpdir(), 'pipeline-test-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
const influx = pipelineInflux(config);
const kafka = pipelineKafka(config, 'pipeline-test', silentLogger);

/**
 * An in-process gateway for plant-1/line-1 streaming `count` machines every 100 ms, with ids
 * of this test's own (`prefix`-0001…) so nothing else in the suite's stack publishes them.
 */
function stream(prefix: string, count: number) {
  const fleet = loadFleet();
  if (!fleet.ok) throw new Error(fleet.reason);
  const machines = deriveFleet(fleet.fleet, { machines: count * 2 })
    .machines.filter((m) => m.line === 'line-1')
    .slice(0, count)
    .map((m) => ({ ...m, machineId: m.machineId.replace('M-', `${prefix}-`) }));
  const gateway = new Gateway({
    gatewayId: `gw-test-${prefix}`,
    site: 'plant-1',
    line: 'line-1',
    machines,
    tickMs: 100,
    snapshotFile: join(scratch, prefix, 'snapshots.json'),
    snapshotEveryMs: 60_000,
    log: silentLogger,
    publisher: {
      url,
      ...readCredentials(config).mqttGateways['plant-1/line-1']!,
      spool: { dir: join(scratch, prefix, 'spool'), maxBytes: 64 << 20, segmentBytes: 64 << 10 },
      maxInflight: 100,
      maxMemory: 5_000,
      backoffMinMs: 100,
      backoffMaxMs: 2_000,
      confirm: gatewayConfirm,
    },
  });
  gateway.start();
  const published = () => Object.values(gateway.lastSeqs()).reduce((a, b) => a + b, 0);
  return {
    machines,
    /** Waits until `n` more readings were published. */
    async runFor(n: number) {
      const target = published() + n;
      expect(await waitFor(() => published() >= target, 60_000)).toBe(true);
    },
    /** Stops the gateway (delivering what it holds) and returns each machine's last seq. */
    async finish(): Promise<Map<string, number>> {
      await gateway.stop(20_000);
      expect(gateway.publisher.stats.dropped).toBe(0);
      return new Map(Object.entries(gateway.lastSeqs()));
    },
  };
}

async function expectNoLoss(published: Map<string, number>, label: string) {
  const report = await verifyLoss({ influx, kafka, published, waitMs: 120_000 });
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

/** Waits until `factory status` calls the component healthy. */
async function waitHealthy(name: string) {
  const healthy = async () => {
    const r = await factory(['status', '--json']);
    return (JSON.parse(r.stdout) as { name: string; healthy: boolean }[]).some(
      (c) => c.name === name && c.healthy,
    );
  };
  expect(await waitFor(healthy, 60_000, 1_000)).toBe(true);
}

async function restoreStack() {
  const r = await factory(['up']);
  expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
}

describe('ingestion without loss, against the real servers', () => {
  it('stores every seq of 50 streaming machines in InfluxDB', async () => {
    const s = stream('A', 50);
    expect(s.machines).toHaveLength(50);
    await s.runFor(5_000);
    const report = await expectNoLoss(await s.finish(), '50 machines');
    expect(report.totals.published).toBeGreaterThanOrEqual(5_000);
  });

  it('loses nothing when a bridge is killed with SIGKILL mid-stream and restarted', async () => {
    const s = stream('B', 20);
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
    const s = stream('G', 20);
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
    const s = stream('C', 20);
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
    const s = stream('D', 20);
    await s.runFor(1_000);
    await keeperPaused(async () => {
      await stopProcess(pidOf('kafka'), 30_000);
      await s.runFor(500); // readings keep coming; the bridges hold them unacknowledged
    });
    await restoreStack();
    await s.runFor(1_000);
    await expectNoLoss(await s.finish(), 'Kafka restarted');
  });

  it('a gateway killed with SIGKILL resumes under a new epoch; verify tells its gap from loss', async () => {
    const gw = 'gateway-plant-1-line-2';
    await waitHealthy(gw);
    await new Promise((r) => setTimeout(r, 6_000)); // past a periodic snapshot, then a few more ticks
    process.kill(pidOf(gw).pid, 'SIGKILL');
    await restoreStack();
    await new Promise((r) => setTimeout(r, 3_000)); // the new process publishes its status and readings
    const r = await factory(['verify', '--json', '--wait', '60']);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as {
      totals: { lost: number; gaps: number };
      machines: { machineId: string; failoverGaps: [number, number][] }[];
    };
    expect(report.totals.lost).toBe(0);
    const line2 = report.machines.filter((m) =>
      ['M-0006', 'M-0007', 'M-0008', 'M-0009', 'M-0010'].includes(m.machineId),
    );
    expect(line2).toHaveLength(5);
    for (const m of line2) expect(m.failoverGaps.length, m.machineId).toBeGreaterThan(0);
  });

  it('verify exits 1 and names the missing range when readings are not stored', async () => {
    const creds = readCredentials(config).mqttGateways['plant-1/line-1']!;
    const id = `L-${randomUUID().slice(0, 6)}`;
    const s = stream('L', 1);
    await s.runFor(30);
    const published = await s.finish();
    await expectNoLoss(published, 'before the fake claim');
    const seq = [...published.values()][0]!;
    const fakeMachine = [...published.keys()][0]!;
    // A status claiming ten more readings than were ever published: those ten are "lost".
    const client = await mqtt.connectAsync(url, { ...creds, protocolVersion: 5 });
    const topic = `factory/plant-1/line-1/status/${id}`;
    await client.publishAsync(topic, JSON.stringify({ online: false, seqs: { [fakeMachine]: seq + 10 } }), {
      qos: 1,
      retain: true,
    });
    try {
      const r = await factory(['verify', '--wait', '2']);
      expect(r.code).toBe(1);
      expect(r.stdout).toContain(`${fakeMachine}: lost ${seq + 1}-${seq + 10}`);
      expect(r.stdout).toMatch(/LOSS: 10 readings of 1 machine are not stored/);
    } finally {
      await client.publishAsync(topic, '', { qos: 1, retain: true }); // clears the retained claim
      await client.endAsync();
    }
  });

  it('dead-letters a corpus of malformed payloads with reasons, and stores the valid stream beside it', async () => {
    const s = stream('E', 10);
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
    const run = randomUUID().slice(0, 6);
    const corpus: [string, string | Buffer, RegExp][] = [
      ['not-json', '{"v":1,', /not JSON/],
      ['nan', JSON.stringify(good).replace('"temperatureC":40', '"temperatureC":NaN'), /not JSON/],
      ['infinite', JSON.stringify(good).replace('"powerKw":10', '"powerKw":1e999'), /powerKw/],
      ['wrong-type', JSON.stringify({ ...good, seq: 'seven' }), /seq/],
      ['missing', JSON.stringify({ ...good, oee: undefined }), /oee/],
      ['version', JSON.stringify({ ...good, v: 2 }), /unknown schema version/],
      ['oversized', Buffer.alloc(20_000, 0x20), /oversized/],
      ['past', JSON.stringify({ ...good, ts: now - 30 * 24 * 3600 * 1000 }), /in the past/],
      ['future', JSON.stringify({ ...good, ts: now + 3600 * 1000 }), /in the future/],
      ['mismatch', JSON.stringify({ ...good, machineId: 'E-9999' }), /does not match/],
    ];
    const ids = corpus.map(([name]) => `X-${run}-${name}`);
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

    const found = new Map<string, { reason: string; raw: Buffer }>();
    const consumer = kafka.consumer({ groupId: `dlq-test-${run}` });
    await consumer.connect();
    await consumer.subscribe({ topic: TOPICS.telemetryDlq, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        const key = message.key?.toString() ?? '';
        if (ids.includes(key))
          found.set(key, { reason: String(message.headers?.reason ?? ''), raw: message.value! });
      },
    });
    const all = await waitFor(() => found.size === ids.length, 60_000);
    await consumer.disconnect();
    expect([...found.keys()].sort(), `dead-lettered: ${[...found.keys()]}`).toEqual([...ids].sort());
    expect(all).toBe(true);
    for (const [i, [name, payload, reason]] of corpus.entries()) {
      const entry = found.get(ids[i]!)!;
      expect(entry.reason, name).toMatch(reason);
      if (name === 'oversized') expect(entry.raw.equals(payload as Buffer)).toBe(true); // raw bytes kept
    }
    await expectNoLoss(await s.finish(), 'valid stream beside malformed payloads');
  });
});
