import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, describe, expect, it } from 'vitest';
import { formatAddress } from '../../common/config.js';
import { confirmTopic } from '../../common/confirm.js';
import { readCredentials } from '../../common/credentials.js';
import { silentLogger } from '../../common/log.js';
import { Publisher } from '../../firmware/publisher.js';
import { waitFor } from '../../infra/supervisor/process.js';
import { testConfig } from './stack-env.js';

const config = testConfig();
const url = `mqtt://${formatAddress(config.mqtt)}`;
const scratch = mkdtempSync(join(tmpdir(), 'confirm-test-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/**
 * The gateway's side of the confirmation channel against the real broker, with no bridge in
 * the loop: messages go to a topic no bridge subscribes to, so only this test can confirm them.
 */
describe('the confirmation channel (real broker)', () => {
  it('keeps what the broker acknowledged until it is confirmed, publishing it again meanwhile', async () => {
    const creds = readCredentials(config);
    const run = randomUUID().slice(0, 6);
    const machineId = `C-${run}`;
    const publisher = new Publisher({
      url,
      clientId: `confirm-test-${run}`,
      ...creds.mqttGateways['plant-1/line-1']!,
      spool: { dir: join(scratch, 'spool'), maxBytes: 1 << 20, segmentBytes: 1 << 14 },
      maxInflight: 10,
      maxMemory: 100,
      backoffMinMs: 100,
      backoffMaxMs: 1_000,
      statusTopic: `factory/plant-1/line-1/status/confirm-test-${run}`,
      birth: () => ({ online: true }),
      will: { online: false },
      confirm: {
        topic: confirmTopic('plant-1', 'line-1'),
        maxUnconfirmed: 1_000,
        timeoutMs: 1_000,
        maxTimeoutMs: 2_000,
      },
      log: silentLogger,
    });
    publisher.start();
    const bridge = await mqtt.connectAsync(url, { ...creds.mqttBridge, protocolVersion: 5 });
    try {
      expect(await waitFor(() => publisher.stats.connected, 10_000)).toBe(true);
      for (let seq = 1; seq <= 5; seq++) {
        publisher.publish(`factory/plant-1/line-1/${machineId}/unbridged`, `{"seq":${seq}}`, {
          machineId,
          kind: 't',
          n: seq,
        });
      }
      // Acknowledged by the broker, but nobody confirmed: kept, and published again.
      expect(await waitFor(() => publisher.stats.acked >= 5, 10_000)).toBe(true);
      expect(publisher.stats.unconfirmed).toBe(5);
      expect(await waitFor(() => publisher.stats.replayed >= 5, 10_000)).toBe(true);
      expect(publisher.drained).toBe(false);

      // A gateway account may not forge a confirmation: the broker refuses it (MQTT 5 reason 135).
      const forger = await mqtt.connectAsync(url, {
        ...creds.mqttGateways['plant-1/line-1']!,
        protocolVersion: 5,
      });
      const forged = await forger
        .publishAsync(
          confirmTopic('plant-1', 'line-1'),
          JSON.stringify({ v: 1, bridge: 'x', ts: 1, t: { [machineId]: [[1, 5]] } }),
          { qos: 1 },
        )
        .then(
          () => 'accepted',
          (err: Error & { code?: number }) => String(err.code ?? err.message),
        );
      await forger.endAsync();
      expect(forged).toBe('135');
      expect(publisher.stats.unconfirmed + publisher.stats.inflight + publisher.stats.queued).toBeGreaterThan(
        0,
      );

      // The bridge account confirms 1-3; a malformed confirmation is ignored, not fatal; then 4-5.
      const confirm = (body: string) =>
        bridge.publishAsync(confirmTopic('plant-1', 'line-1'), body, { qos: 1 });
      await confirm(JSON.stringify({ v: 1, bridge: 'test', ts: Date.now(), t: { [machineId]: [[1, 3]] } }));
      expect(await waitFor(() => publisher.stats.confirmed === 3, 10_000)).toBe(true);
      expect(publisher.drained).toBe(false);
      await confirm('{"v":1,');
      await confirm(JSON.stringify({ v: 1, bridge: 'test', ts: Date.now(), t: { [machineId]: [[3, 2]] } }));
      await confirm(JSON.stringify({ v: 1, bridge: 'test', ts: Date.now(), t: { [machineId]: [[4, 5]] } }));
      expect(await waitFor(() => publisher.drained, 10_000)).toBe(true);
      expect(publisher.stats.confirmed).toBe(5);
      expect(publisher.stats.connected).toBe(true);
    } finally {
      await bridge.endAsync();
      await publisher.stop(1_000, { online: false });
      // Leave no retained status of this test behind for `factory verify` to read.
      const operator = await mqtt.connectAsync(url, { ...creds.mqtt, protocolVersion: 5 });
      await operator.publishAsync(`factory/plant-1/line-1/status/confirm-test-${run}`, '', {
        qos: 1,
        retain: true,
      });
      await operator.endAsync();
    }
  });
});
