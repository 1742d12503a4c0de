import { randomUUID } from 'node:crypto';
import mqtt from 'mqtt';
import { describe, expect, it } from 'vitest';
import { formatAddress, paths } from '../../common/config.js';
import { readCredentials } from '../../common/credentials.js';
import { readPidFile, stopProcess, waitFor } from '../../infra/supervisor/process.js';
import { factory, keeperPaused, testConfig } from './stack-env.js';
import { startRig } from './test-rig.js';

const config = testConfig();
const url = `mqtt://${formatAddress(config.mqtt)}`;

describe("a worker's telemetry sink against the real Mosquitto", () => {
  it('delivers every seq of every machine, in order, across a 10 s broker outage', async () => {
    const creds = readCredentials(config);
    const prefix = `T${randomUUID().slice(0, 4)}`;

    // A subscriber with a persistent session, so what arrives while it reconnects is kept for it.
    const received = new Map<string, number[]>();
    let duplicates = 0;
    const sub = await mqtt.connectAsync(url, {
      ...creds.mqtt,
      clientId: `sink-test-${randomUUID().slice(0, 8)}`,
      protocolVersion: 5,
      clean: false,
      properties: { sessionExpiryInterval: 600 },
      reconnectPeriod: 300,
    });
    sub.on('message', (_topic, payload) => {
      const t = JSON.parse(payload.toString()) as { machineId: string; seq: number };
      if (!t.machineId.startsWith(`${prefix}-`)) return;
      const seqs = received.get(t.machineId) ?? [];
      if (seqs.includes(t.seq)) duplicates++;
      else seqs.push(t.seq);
      received.set(t.machineId, seqs);
    });
    await sub.subscribeAsync('factory/plant-1/line-1/+/telemetry', { qos: 1 });

    const rig = await startRig(config, { prefix, count: 20 });
    let published: Map<string, { published: number }>;
    try {
      const total = () => [...received.values()].reduce((n, s) => n + s.length, 0);
      expect(await waitFor(() => total() >= rig.machines.length * 20, 30_000)).toBe(true);

      // Stop the broker mid-stream (TERM, as an operator would) for 10 s; the keeper waits.
      await keeperPaused(async () => {
        const broker = readPidFile(paths(config).pid('mosquitto'))!;
        await stopProcess(broker, 10_000);
        expect(await waitFor(() => !rig.sink.stats.connected, 5_000)).toBe(true);
        const outageStart = Date.now();
        expect(await waitFor(() => Date.now() - outageStart >= 10_000, 11_000)).toBe(true);
      });
      const spooled = rig.sink.stats.spooled;
      expect(spooled).toBeGreaterThan(rig.machines.length * 50); // ~100 ticks of every machine
      const up = await factory(['up']);
      expect(up.code, up.stderr).toBe(0);

      // Keep streaming a little after the outage, then stop and require everything.
      expect(await waitFor(() => rig.sink.stats.connected, 15_000)).toBe(true);
      const resumedAt = total();
      expect(await waitFor(() => total() > resumedAt + rig.machines.length * 10, 30_000)).toBe(true);
    } finally {
      published = await rig.finish();
    }
    const complete = () =>
      rig.machines.every(
        (m) => (received.get(m.machineId)?.length ?? 0) >= published.get(m.machineId)!.published,
      );
    expect(await waitFor(complete, 30_000)).toBe(true);
    await sub.endAsync();

    for (const m of rig.machines) {
      const seqs = received.get(m.machineId)!;
      const expected = Array.from({ length: published.get(m.machineId)!.published }, (_, i) => i + 1);
      expect(seqs, m.machineId).toEqual(expected); // all of them, first deliveries in order
    }
    const sent = [...published.values()].reduce((a, b) => a + b.published, 0);
    process.stdout.write(
      `[sink] ${rig.machines.length} machines, ${sent} messages, ${rig.sink.stats.spooled} spooled during the outage, ${duplicates} duplicate deliveries\n`,
    );
  });
});
