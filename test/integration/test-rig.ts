import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { RegisteredMachine } from '../../actors/registry.js';
import { type Config, formatAddress } from '../../common/config.js';
import { readCredentials } from '../../common/credentials.js';
import { silentLogger } from '../../common/log.js';
import { connectNats } from '../../common/nats.js';
import { FleetRegistry } from '../../common/registry.js';
import type { TelemetryV1 } from '../../common/telemetry.js';
import { waitFor } from '../../infra/supervisor/process.js';
import type { Expectation } from '../../pipeline/verify.js';
import { TelemetrySink } from '../../workers/telemetry-sink.js';

/** The confirmation settings of a real worker (workers/main.ts), for in-process test rigs. */
export const workerConfirm = { maxUnconfirmed: 50_000, timeoutMs: 15_000, maxTimeoutMs: 60_000 };

/**
 * A test rig: an external device on plant-1's line publishing `count` machines of its own
 * (`prefix`-0001…) every `tickMs` through the product's telemetry sink (the firmware publisher
 * with the line's account, store and forward, confirmations). Its machines are registered as
 * external, so the bridge accepts them and no worker hosts them.
 */
export async function startRig(
  config: Config,
  opts: { prefix: string; count: number; line?: string; tickMs?: number },
) {
  const line = opts.line ?? 'line-1';
  const scratch = mkdtempSync(join(tmpdir(), `rig-${opts.prefix}-`));
  const machines: RegisteredMachine[] = Array.from({ length: opts.count }, (_, i) => ({
    v: 1,
    machineId: `${opts.prefix}-${String(i + 1).padStart(4, '0')}`,
    site: 'plant-1',
    line,
    type: 'external',
    seed: 0,
    serial: 0,
    external: true,
    addedAt: Date.now(),
    retiredAt: null,
  }));
  const nc = await connectNats(config, `rig-${opts.prefix}`, 'admin');
  try {
    await (await FleetRegistry.open(nc)).registerExternal(machines);
  } finally {
    await nc.close();
  }
  const creds = readCredentials(config);
  const sink = new TelemetrySink({
    workerId: `rig-${opts.prefix}`,
    mqttUrl: `mqtt://${formatAddress(config.mqtt)}`,
    account: (site, l) => creds.mqttGateways[`${site}/${l}`],
    stateDir: scratch,
    confirm: config.pipeline.confirmations ? workerConfirm : undefined,
    hostedOn: () => machines.map((m) => m.machineId),
    log: silentLogger,
  });
  const seqs = new Map(machines.map((m) => [m.machineId, 0]));
  let lastTs = 0;
  const tick = () => {
    // InfluxDB keeps one point per series and timestamp: never the same millisecond twice.
    lastTs = Math.max(Date.now(), lastTs + 1);
    for (const m of machines) {
      const seq = seqs.get(m.machineId)! + 1;
      seqs.set(m.machineId, seq);
      const t: TelemetryV1 = {
        v: 1,
        site: m.site,
        line: m.line,
        machineId: m.machineId,
        ts: lastTs,
        seq,
        state: 'RUNNING',
        temperatureC: 40 + (seq % 7),
        speedRpm: 1000,
        vibrationMmS: 2,
        powerKw: 10,
        productionCount: seq,
        goodCount: seq,
        oee: 0.8,
      };
      sink.telemetry(m, JSON.stringify(t), seq);
    }
  };
  const timer = setInterval(tick, opts.tickMs ?? 100);
  const published = () => [...seqs.values()].reduce((a, b) => a + b, 0);
  return {
    machines,
    sink,
    published,
    lastSeqs: () => new Map(seqs),
    /** Waits until `n` more readings were published. */
    async runFor(n: number) {
      const target = published() + n;
      expect(await waitFor(() => published() >= target, 60_000)).toBe(true);
    },
    /** Stops publishing, delivers what it holds, and returns what each machine published. */
    async finish(): Promise<Map<string, Expectation>> {
      clearInterval(timer);
      await sink.stop(20_000);
      rmSync(scratch, { recursive: true, force: true });
      const c = await connectNats(config, `rig-${opts.prefix}`, 'admin');
      try {
        await (await FleetRegistry.open(c)).unregisterExternal(machines.map((m) => m.machineId));
      } finally {
        await c.close();
      }
      expect(sink.stats.dropped).toBe(0);
      return new Map(
        [...seqs].map(([id, seq]) => [
          id,
          { published: seq, gaps: [], reservedUpTo: Number.POSITIVE_INFINITY },
        ]),
      );
    },
  };
}
