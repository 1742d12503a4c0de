import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Config, formatAddress } from '../../common/config.js';
import { readCredentials } from '../../common/credentials.js';
import { silentLogger } from '../../common/log.js';
import { sleep } from '../../common/retry.js';
import { quantile } from '../../common/runtime.js';
import type { TelemetryV1 } from '../../common/telemetry.js';
import { mqttTopics } from '../../common/topics-mqtt.js';
import { Publisher } from '../../firmware/publisher.js';
import { pipelineInflux } from '../../pipeline/influx.js';
import { metricsAddress } from '../servers/pipeline.js';
import type { Output } from '../supervisor/output.js';

export interface PipelineBenchResult {
  offeredPerSecond: number;
  seconds: number;
  machines: number;
  published: number;
  stored: number;
  /** Readings per second from the first publish to the moment the last one was stored. */
  sustainedPerSecond: number;
  endToEndMs: { p50: number | null; p99: number | null; samples: number };
  bridges: number;
  lanesPerBridge: number;
}

type Histogram = { le: number; count: number }[];

/** The writers' `written` counters and end-to-end latency histograms, summed over writers. */
async function writerFigures(config: Config): Promise<{ written: number; histogram: Histogram }> {
  const ctx = { config, tools: { kafkaLib: '', temporal: '' } };
  const parts = await Promise.all(
    Array.from({ length: config.pipeline.writers }, async (_, i) => {
      const res = await fetch(`http://${formatAddress(metricsAddress(ctx, 'writer', i + 1))}/healthz`);
      const body = (await res.json()) as {
        counters: Record<string, number>;
        histograms?: Record<string, { le: number | '+Inf'; count: number }[]>;
      };
      const histogram = (body.histograms?.endToEndMs ?? []).map((b) => ({
        le: b.le === '+Inf' ? Number.POSITIVE_INFINITY : b.le,
        count: b.count,
      }));
      return { written: body.counters.written ?? 0, histogram };
    }),
  );
  const longest = parts.reduce((a, b) => (b.histogram.length > a.length ? b.histogram : a), [] as Histogram);
  return {
    written: parts.reduce((n, p) => n + p.written, 0),
    histogram: longest.map((b, i) => ({
      le: b.le,
      count: parts.reduce((n, p) => n + (p.histogram[i]?.count ?? 0), 0),
    })),
  };
}

/**
 * Offers `rate` readings per second for `seconds` through the running stack (MQTT → bridge →
 * Kafka → writer → InfluxDB) from machines of its own, then waits until all are stored.
 */
export async function benchPipeline(
  config: Config,
  req: { rate: number; seconds: number; machines: number },
  out: Output,
): Promise<PipelineBenchResult> {
  const run = randomUUID().slice(0, 6);
  const ids = Array.from(
    { length: req.machines },
    (_, i) => `BENCH-${run}-${String(i + 1).padStart(4, '0')}`,
  );
  const spool = mkdtempSync(join(tmpdir(), 'factory-bench-'));
  const account = readCredentials(config).mqttGateways['plant-1/line-1'];
  if (!account)
    throw new Error('no gateway account for plant-1/line-1: run "factory up" with the default fleet');
  const publisher = new Publisher({
    url: `mqtt://${formatAddress(config.mqtt)}`,
    clientId: `bench-${run}`,
    ...account,
    spool: { dir: spool, maxBytes: 1 << 30, segmentBytes: 1 << 20 },
    maxInflight: 500,
    maxMemory: 100_000,
    backoffMinMs: 100,
    backoffMaxMs: 1_000,
    statusTopic: mqttTopics.status('plant-1', 'line-1', `bench-${run}`),
    birth: () => ({ online: true, bench: true }),
    will: { online: false },
    log: silentLogger,
  });
  publisher.start();
  while (!publisher.stats.connected) await sleep(20);
  const before = await writerFigures(config);
  const seqs = new Array<number>(ids.length).fill(0);
  // InfluxDB keeps one point per series and timestamp: a machine never reuses a millisecond.
  const lastTs = new Array<number>(ids.length).fill(0);
  const total = req.rate * req.seconds;
  const started = Date.now();
  let sent = 0;
  let next = 0;
  while (sent < total) {
    const due = Math.min(total, Math.floor(((Date.now() - started) / 1000) * req.rate));
    for (; sent < due; sent++) {
      const k = next++ % ids.length;
      lastTs[k] = Math.max(Date.now(), lastTs[k]! + 1);
      const t: TelemetryV1 = {
        v: 1,
        site: 'plant-1',
        line: 'line-1',
        machineId: ids[k]!,
        ts: lastTs[k]!,
        seq: ++seqs[k]!,
        state: 'RUNNING',
        temperatureC: 50,
        speedRpm: 1000,
        vibrationMmS: 2,
        powerKw: 10,
        productionCount: seqs[k]!,
        goodCount: seqs[k]!,
        oee: 0.9,
      };
      publisher.publish(mqttTopics.telemetry('plant-1', 'line-1', t.machineId), JSON.stringify(t));
    }
    out.progress(`offering ${req.rate}/s: ${sent}/${total} published`);
    await sleep(10);
  }
  // Follow the writers' counters while waiting (cheap); count in InfluxDB once at the end.
  const deadline = Date.now() + 180_000;
  let finished = Date.now();
  for (;;) {
    const written = (await writerFigures(config)).written - before.written;
    out.progress(`waiting for InfluxDB: about ${Math.min(written, total)}/${total} written`);
    finished = Date.now();
    if (written >= total || finished > deadline) break;
    await sleep(100);
  }
  // The counters include the stack's own gateways: confirm the last stretch in InfluxDB itself.
  const influx = pipelineInflux(config);
  let stored = 0;
  for (;;) {
    const rows = await influx.query<{ count: number }>(
      `SELECT count("seq") AS count FROM "telemetry" WHERE "machine" =~ /^BENCH-${run}-/ AND time >= ${started - 60_000}ms`,
    );
    stored = rows[0]?.count ?? 0;
    finished = Date.now();
    if (stored >= total || finished > deadline) break;
    const p = publisher.stats;
    out.progress(
      `waiting for InfluxDB: ${stored}/${total} stored (publisher: ${p.acked} acked, ${p.inflight} in flight, ${p.queued} queued, ${p.spoolBytes} spool bytes)`,
    );
    await sleep(250);
  }
  const after = await writerFigures(config);
  const delta = after.histogram.map((b, i) => ({
    le: b.le,
    count: b.count - (before.histogram[i]?.count ?? 0),
  }));
  await publisher.stop(5_000, { online: false });
  rmSync(spool, { recursive: true, force: true });
  const round = (n: number | null) => (n === null ? null : Math.round(n));
  return {
    offeredPerSecond: req.rate,
    seconds: req.seconds,
    machines: req.machines,
    published: total,
    stored,
    sustainedPerSecond: Math.round((stored / (finished - started)) * 1000),
    endToEndMs: {
      p50: round(quantile(delta, 0.5)),
      p99: round(quantile(delta, 0.99)),
      samples: delta.at(-1)?.count ?? 0,
    },
    bridges: config.pipeline.bridges,
    lanesPerBridge: config.pipeline.lanes,
  };
}
