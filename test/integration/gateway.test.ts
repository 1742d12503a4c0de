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
import { Gateway } from '../../firmware/gateway.js';
import { readPidFile, stopProcess, waitFor } from '../../infra/supervisor/process.js';
import { factory, gatewayConfirm, keeperPaused, testConfig } from './stack-env.js';

const config = testConfig();
const url = `mqtt://${formatAddress(config.mqtt)}`;
const scratch = mkdtempSync(join(tmpdir(), 'gateway-test-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function lineMachines(line: string, total: number) {
  const fleet = loadFleet();
  if (!fleet.ok) throw new Error(fleet.reason);
  // Ids of their own (T-…): the suite's stack runs a gateway for this line with the M-… machines.
  return deriveFleet(fleet.fleet, { machines: total })
    .machines.filter((m) => m.line === line)
    .map((m) => ({ ...m, machineId: m.machineId.replace('M-', 'T-') }));
}

describe('line gateway against the real Mosquitto', () => {
  it('delivers every seq of every machine, in order, across a 10 s broker outage', async () => {
    const creds = readCredentials(config);
    const machines = lineMachines('line-1', 40);
    expect(machines.length).toBeGreaterThanOrEqual(15);

    // A subscriber with a persistent session, so what arrives while it reconnects is kept for it.
    const received = new Map<string, number[]>();
    let duplicates = 0;
    const sub = await mqtt.connectAsync(url, {
      ...creds.mqtt,
      clientId: `gateway-test-${randomUUID().slice(0, 8)}`,
      protocolVersion: 5,
      clean: false,
      properties: { sessionExpiryInterval: 600 },
      reconnectPeriod: 300,
    });
    sub.on('message', (_topic, payload) => {
      const t = JSON.parse(payload.toString()) as { machineId: string; seq: number };
      if (!t.machineId.startsWith('T-')) return;
      const seqs = received.get(t.machineId) ?? [];
      if (seqs.includes(t.seq)) duplicates++;
      else seqs.push(t.seq);
      received.set(t.machineId, seqs);
    });
    await sub.subscribeAsync('factory/plant-1/line-1/+/telemetry', { qos: 1 });

    const gateway = new Gateway({
      gatewayId: 'gw-test-line-1',
      site: 'plant-1',
      line: 'line-1',
      machines,
      tickMs: 100,
      snapshotFile: join(scratch, 'snapshots.json'),
      snapshotEveryMs: 1_000,
      log: silentLogger,
      publisher: {
        url,
        ...creds.mqttGateways['plant-1/line-1']!,
        spool: { dir: join(scratch, 'spool'), maxBytes: 64 * 1024 * 1024, segmentBytes: 64 * 1024 },
        maxInflight: 50,
        maxMemory: 1_000,
        backoffMinMs: 100,
        backoffMaxMs: 2_000,
        confirm: gatewayConfirm,
      },
    });
    gateway.start();
    try {
      const total = () => [...received.values()].reduce((n, s) => n + s.length, 0);
      expect(await waitFor(() => total() >= machines.length * 20, 30_000)).toBe(true);

      // Stop the broker mid-stream (TERM, as an operator would) for 10 s; the keeper waits.
      await keeperPaused(async () => {
        const broker = readPidFile(paths(config).pid('mosquitto'))!;
        await stopProcess(broker, 10_000);
        expect(await waitFor(() => !gateway.publisher.stats.connected, 5_000)).toBe(true);
        const outageStart = Date.now();
        expect(await waitFor(() => Date.now() - outageStart >= 10_000, 11_000)).toBe(true);
      });
      const spooled = gateway.publisher.stats.spooled;
      expect(spooled).toBeGreaterThan(machines.length * 50); // ~100 ticks of every machine
      const up = await factory(['up']);
      expect(up.code, up.stderr).toBe(0);

      // Keep streaming a little after the outage, then stop and require everything.
      expect(await waitFor(() => gateway.publisher.stats.connected, 15_000)).toBe(true);
      const resumedAt = total();
      expect(await waitFor(() => total() > resumedAt + machines.length * 10, 30_000)).toBe(true);
    } finally {
      await gateway.stop(10_000);
    }
    const last = gateway.lastSeqs();
    const complete = () =>
      machines.every((m) => (received.get(m.machineId)?.length ?? 0) >= last[m.machineId]!);
    expect(await waitFor(complete, 30_000)).toBe(true);
    await sub.endAsync();

    for (const m of machines) {
      const seqs = received.get(m.machineId)!;
      const expected = Array.from({ length: last[m.machineId]! }, (_, i) => i + 1);
      expect(seqs, m.machineId).toEqual(expected); // all of them, first deliveries in order
    }
    expect(gateway.publisher.stats.dropped).toBe(0);
    process.stdout.write(
      `[gateway] ${machines.length} machines, ${Object.values(last).reduce((a, b) => a + b, 0)} messages, ` +
        `${gateway.publisher.stats.spooled} spooled during the outage, ${duplicates} duplicate deliveries\n`,
    );
  });
});
