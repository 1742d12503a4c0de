import { readFileSync } from 'node:fs';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatAddress, paths } from '../../common/config.js';
import { readCredentials } from '../../common/credentials.js';
import { silentLogger } from '../../common/log.js';
import { Metrics } from '../../common/runtime.js';
import {
  BROKER_CRASHES,
  type BrokerCrashKind,
  brokerCrashRound,
  flowing,
} from '../../infra/cli/bench-broker-crash.js';
import { keeperStateFile } from '../../infra/servers/keeper.js';
import { isAlive, readPidFile, waitFor } from '../../infra/supervisor/process.js';
import { BRIDGE_SUBSCRIPTIONS, Bridge } from '../../pipeline/bridge.js';
import { pipelineKafka } from '../../pipeline/kafka.js';
import { factory, testConfig } from './stack-env.js';

/**
 * The broker is the one server every reading passes through twice (worker → broker → bridge).
 * These tests run the suite's stack with 300 machines, crash the broker in three ways, and let
 * the keeper (not the test) bring it back: every published reading must be stored. The long
 * version (1,000 machines, many rounds) is `factory bench --broker-crash`. Then flow-based health and the keeper's restarts of pipeline processes.
 */
const config = testConfig();
const MACHINES = 300;

const pidOf = (name: string) => readPidFile(paths(config).pid(name));

interface VerifyTotals {
  machines: number;
  published: number;
  stored: number;
  lost: number;
  duplicates: number;
}

async function verifyNoLoss(label: string): Promise<VerifyTotals> {
  const r = await factory(['verify', '--json', '--wait', '60']);
  const report = JSON.parse(r.stdout) as {
    totals: VerifyTotals;
    machines: {
      machineId: string;
      lost: [number, number][];
      conflicting: [number, number][];
      unreserved: [number, number][];
      unhosted?: string;
    }[];
  };
  const lost = report.machines
    .filter((m) => m.lost.length > 0)
    .map((m) => `${m.machineId} ${JSON.stringify(m.lost)}`);
  expect(lost.slice(0, 10), label).toEqual([]);
  // Not loss, but verify fails for these too: name them, so a failure says which.
  const other = report.machines.flatMap((m) => [
    ...(m.conflicting.length ? [`${m.machineId} conflicting ${JSON.stringify(m.conflicting)}`] : []),
    ...(m.unreserved.length ? [`${m.machineId} unreserved ${JSON.stringify(m.unreserved)}`] : []),
    ...(m.unhosted ? [`${m.machineId} unhosted: ${m.unhosted}`] : []),
  ]);
  expect(other.slice(0, 10), label).toEqual([]);
  expect(r.code, r.stderr).toBe(0);
  expect(report.totals.machines).toBeGreaterThanOrEqual(MACHINES);
  return report.totals;
}

const keeperRestarts = (): { name: string; at: number; why: string }[] =>
  (JSON.parse(readFileSync(keeperStateFile(config), 'utf8')) as { restarts: [] }).restarts;

beforeAll(async () => {
  const down = await factory(['down']);
  expect(down.code, down.stderr).toBe(0);
  const up = await factory(['up', '--machines', String(MACHINES)], {}, 600_000);
  expect(up.code, `${up.stdout}\n${up.stderr}`).toBe(0);
  expect(await flowing(config, 5_000, 60_000)).toBe(true);
}, 700_000);

afterAll(async () => {
  // The other suites expect the default fleet.
  await factory(['down']);
  const up = await factory(['up'], {}, 600_000);
  if (up.code !== 0)
    process.stderr.write(`[broker-crash] restoring the default stack failed:\n${up.stderr}\n`);
}, 700_000);

describe(`a broker crash with ${MACHINES} machines streaming loses nothing`, () => {
  let duplicatesBefore = 0;
  const figures: string[] = [];
  afterAll(() => process.stdout.write(`[broker-crash]\n${figures.join('\n')}\n`));

  // One round of each; `factory bench --broker-crash --rounds 3` runs many (figures in the README).
  for (const [kind, name] of Object.entries(BROKER_CRASHES) as [BrokerCrashKind, string][]) {
    it(`${name}: the keeper restarts it and verify finds every reading`, async () => {
      const round = await brokerCrashRound(config, kind, () => verifyNoLoss(name), 2 * MACHINES);
      expect(round.verifyMs).toBeLessThan(90_000);
      const totals = round.checked;
      figures.push(
        `${name}: broker back in ${round.restartedMs} ms, data flowing in ${round.recoveredMs} ms, ` +
          `verify ${round.verifyMs} ms: ${totals.published} published, ${totals.lost} lost, ` +
          `${totals.duplicates - duplicatesBefore} new duplicates`,
      );
      duplicatesBefore = totals.duplicates;
    });
  }
});

describe('health that means flow', () => {
  it('a bridge whose lanes are silently unsubscribed is reported unhealthy', async () => {
    const kafka = pipelineKafka(config, 'bridge-silence-test', silentLogger, 'admin');
    const metrics = new Metrics('bridge', 'bridge-silence-test');
    const bridge = new Bridge({
      id: 'bridge-silence-test',
      mqttUrl: `mqtt://${formatAddress(config.mqtt)}`,
      account: readCredentials(config).mqttBridge,
      lanes: 4,
      kafka,
      metrics,
      log: silentLogger,
      lingerMs: 5,
      silenceMs: 10_000,
    });
    const startedAt = Date.now();
    await bridge.start();
    const lanes = (bridge as unknown as { lanes: MqttClient[] }).lanes;
    try {
      // Healthy while it takes its share, judged after it has watched a whole window (10 s).
      const watchedAWindow = () => Date.now() - startedAt > 12_000 && metrics.get('received') > 100;
      expect(await waitFor(watchedAWindow, 30_000, 250)).toBe(true);
      expect(bridge.healthy, bridge.healthy.detail).toMatchObject({ ok: true });

      // One lane loses its subscription behind the bridge's back: the others keep receiving.
      await lanes[0]!.unsubscribeAsync(BRIDGE_SUBSCRIPTIONS);
      const t1 = Date.now();
      expect(
        await waitFor(() => /lanes 1 received nothing/.test(bridge.healthy.detail), 25_000, 250),
        bridge.healthy.detail,
      ).toBe(true);
      expect(bridge.healthy.ok).toBe(false);
      const oneLaneMs = Date.now() - t1;

      // All lanes lose it: the bridge hears nothing while the gateways publish.
      await Promise.all(lanes.map((l) => l.unsubscribeAsync(BRIDGE_SUBSCRIPTIONS)));
      const t2 = Date.now();
      expect(
        await waitFor(
          () => /received nothing for 10s while gateways published/.test(bridge.healthy.detail),
          25_000,
          250,
        ),
        bridge.healthy.detail,
      ).toBe(true);
      process.stdout.write(
        `[broker-crash] silent lane reported after ${oneLaneMs} ms, silent bridge after ${Date.now() - t2} ms (window 10 s)\n`,
      );
    } finally {
      await bridge.stop();
    }
  });

  it('status shows a rate beside every pipeline process and worker', async () => {
    const r = await factory(['status', '--json']);
    const rows = JSON.parse(r.stdout) as { name: string; healthy: boolean; rate: string }[];
    for (const row of rows.filter((x) => /^(bridge|writer|worker)-/.test(x.name))) {
      expect(row.rate, row.name).toMatch(/\d+ (received|written|emitted)\/s/);
      const first = Number(/(\d+)/.exec(row.rate)?.[1]);
      expect(first, `${row.name}: ${row.rate}`).toBeGreaterThan(0); // 300 machines stream through each
    }
  });
});

describe('the keeper', () => {
  it('restarts a SIGKILLed writer, bridge and worker without anyone calling up', async () => {
    const victims = ['writer-1', 'bridge-2', 'worker-1'];
    const before = new Map(victims.map((v) => [v, pidOf(v)!]));
    const t0 = Date.now();
    for (const record of before.values()) process.kill(record.pid, 'SIGKILL');
    const replaced = () =>
      victims.every((v) => {
        const now = pidOf(v);
        return !!now && now.pid !== before.get(v)!.pid && isAlive(now);
      });
    expect(await waitFor(replaced, 60_000, 250)).toBe(true);
    const healthy = async () => {
      const rows = JSON.parse((await factory(['status', '--json'])).stdout) as {
        name: string;
        healthy: boolean;
      }[];
      return victims.every((v) => rows.find((r) => r.name === v)?.healthy);
    };
    expect(await waitFor(healthy, 60_000, 1_000)).toBe(true);
    const restarts = keeperRestarts().filter((r) => r.at >= t0 - 1_000);
    for (const v of victims) expect(restarts.find((r) => r.name === v)?.why, v).toMatch(/not running/);
    process.stdout.write(`[broker-crash] keeper replaced ${victims.join(', ')} in ${Date.now() - t0} ms\n`);
    expect(await flowing(config, 2_000, 30_000)).toBe(true);
    await verifyNoLoss('after the keeper restarted writer, bridge and worker');
  }, 300_000);
});
