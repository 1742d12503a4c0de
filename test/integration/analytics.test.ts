import type { Consumer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { followAlarmEvents } from '../../analytics/alarm-feed.js';
import type { AlarmEvent } from '../../analytics/events.js';
import { paths } from '../../common/config.js';
import { readAnalyticsHealthz } from '../../infra/servers/analytics.js';
import { readPidFile, waitFor } from '../../infra/supervisor/process.js';
import { factory, keeperPaused, testConfig } from './stack-env.js';

/**
 * Alarms end to end on the real servers: `factory inject` → worker → MQTT → bridge → Kafka →
 * analytics → `alarms` topic, `factory alarm ack` back through `alarm-commands`, and a SIGKILLed
 * analytics process that comes back without raising anything twice.
 */
const config = testConfig();
const MACHINE = 'M-0003';
const OTHER = 'M-0006';
const events: AlarmEvent[] = [];
let consumer: Consumer;

const ofMachine = (rule?: string) =>
  events.filter((e) => e.machineId === MACHINE && (rule === undefined || e.rule === rule));
const raisedIds = (rule: string) =>
  new Set(
    ofMachine(rule)
      .filter((e) => e.transition === 'RAISED')
      .map((e) => e.alarmId),
  );

async function cli(args: string[]) {
  const r = await factory(args);
  return { ...r, out: `${r.stdout}${r.stderr}` };
}

beforeAll(async () => {
  // Every alarm event from now on, as any consumer of the topic sees it.
  consumer = await followAlarmEvents(config, 'analytics-test', (e) => events.push(e));
}, 60_000);

let scaledOut = false;

afterAll(async () => {
  await consumer?.disconnect();
  for (const m of [MACHINE, OTHER]) {
    await cli(['command', m, 'CLEAR_FAULT']);
    await cli(['command', m, 'START']);
  }
  // The suite's other files expect one analytics instance.
  if (scaledOut) {
    await cli(['down']);
    await cli(['up']);
  }
}, 300_000);

/** Partitions an analytics instance consumes, from its /healthz ("consuming 6 partitions"). */
async function partitionsOf(n: number): Promise<number> {
  const h = await readAnalyticsHealthz(config, n).catch(() => undefined);
  return Number(/consuming (\d+) partitions/.exec(h?.detail ?? '')?.[1] ?? -1);
}

/** Heats a stopped machine until it trips; resolves with its temperature-high alarm id. */
async function overheat(machineId: string): Promise<string> {
  // STOP is refused during a planned stop (MAINTENANCE, seconds long): until it is taken.
  expect(
    await waitFor(async () => (await cli(['command', machineId, 'STOP'])).code === 0, 90_000, 2_000),
  ).toBe(true);
  expect((await cli(['inject', machineId, 'overheat', '--param', 'extraC=300'])).code).toBe(0);
  const raisedHere = () =>
    events.filter(
      (e) => e.machineId === machineId && e.rule === 'temperature-high' && e.transition === 'RAISED',
    );
  expect(await waitFor(() => raisedHere().length > 0, 150_000, 250)).toBe(true);
  return raisedHere()[0]!.alarmId;
}

describe('analytics on the live stack', () => {
  it('an injected overheat raises one alarm per rule, survives a SIGKILL of analytics, clears, and is acknowledged', async () => {
    // Held IDLE (powered, so the overheat heats it; the chain does not move a stopped machine),
    // 300 °C above ambient: past the 78 °C high limit within about a minute.
    const alarmId = await overheat(MACHINE);
    const raise = ofMachine('temperature-high').find((e) => e.transition === 'RAISED')!;
    expect(raise).toMatchObject({ severity: 'high', limit: 78, state: 'ACTIVE_UNACK', line: 'line-1' });
    expect(raise.value).toBeGreaterThan(78);

    // Mid-episode: SIGKILL analytics. The keeper restarts it; it must raise nothing again.
    const before = readPidFile(paths(config).pid('analytics-1'))!;
    process.kill(before.pid, 'SIGKILL');
    expect(
      await waitFor(
        async () => {
          const now = readPidFile(paths(config).pid('analytics-1'));
          if (!now || now.pid === before.pid) return false;
          return (await cli(['status'])).stdout.match(/analytics-1\s+\d+\s+\S+\s+healthy/) !== null;
        },
        120_000,
        1_000,
      ),
    ).toBe(true);

    // The trip: FAULT. Then clear the injected fault; the machine resets once it has cooled below 80 °C.
    expect(await waitFor(() => raisedIds('fault').size > 0, 120_000, 250)).toBe(true);
    expect(
      await waitFor(
        async () => (await cli(['command', MACHINE, 'CLEAR_FAULT'])).stdout.includes('state IDLE'),
        180_000,
        3_000,
      ),
    ).toBe(true);
    // Cooling: the temperature and fault alarms clear (temperature after its deadband and off-delay).
    const cleared = (id: string) => events.some((e) => e.alarmId === id && e.transition === 'CLEARED');
    expect(await waitFor(() => cleared(alarmId), 180_000, 500)).toBe(true);
    expect(await waitFor(() => cleared([...raisedIds('fault')][0]!), 60_000, 500)).toBe(true);

    const list = await cli(['alarm', 'list']);
    expect(list.stdout).toContain(alarmId);
    expect(list.stdout).toMatch(/cleared, unacked/);

    const ack = await cli(['alarm', 'ack', alarmId, '--by', 'tester']);
    expect(ack.code, ack.out).toBe(0);
    expect(
      await waitFor(
        () => events.some((e) => e.alarmId === alarmId && e.transition === 'ACKNOWLEDGED'),
        30_000,
      ),
    ).toBe(true);
    const acked = events.find((e) => e.alarmId === alarmId && e.transition === 'ACKNOWLEDGED')!;
    expect(acked).toMatchObject({ state: 'NORMAL', by: 'tester' });
    // An illegal transition is answered with its reason.
    const again = await cli(['alarm', 'ack', alarmId, '--by', 'tester']);
    expect(again.code).toBe(1);
    expect(again.stdout).toMatch(/refused by analytics-\d: alarm .* is not open/);

    // One episode per rule, whatever the kill replayed: never a second RAISED, never chatter.
    for (const rule of new Set(ofMachine().map((e) => e.rule))) {
      expect(raisedIds(rule).size, `rule ${rule}`).toBe(1);
      const transitions = ofMachine(rule).map((e) => e.eventId);
      expect(new Set(transitions).size, `distinct events of ${rule}`).toBeGreaterThanOrEqual(2);
    }
    expect((await cli(['alarm', 'list'])).stdout).not.toContain(alarmId);
  }, 600_000);

  it('two instances share the partitions; when one is SIGKILLed the other carries its machines on, same episode', async () => {
    scaledOut = true;
    const up = await factory(['up'], { FACTORY_ANALYTICS: '2' });
    expect(up.code, up.stdout + up.stderr).toBe(0);
    // The co-partitioning assignor splits 12 partitions 6 and 6.
    expect(
      await waitFor(
        async () => (await partitionsOf(1)) === 6 && (await partitionsOf(2)) === 6,
        90_000,
        1_000,
      ),
    ).toBe(true);
    const alarmId = await overheat(OTHER);
    // The acknowledgement's answer names the instance that owns the machine's alarms.
    const ack = await cli(['alarm', 'ack', alarmId, '--by', 'tester']);
    expect(ack.code, ack.out).toBe(0);
    const owner = /\((analytics-(\d))\)/.exec(ack.stdout);
    expect(owner, ack.stdout).not.toBeNull();
    const n = Number(owner![2]);
    const survivor = n === 1 ? 2 : 1;
    await keeperPaused(async () => {
      process.kill(readPidFile(paths(config).pid(`analytics-${n}`))!.pid, 'SIGKILL');
      // Its session (10 s) runs out; the survivor takes all 12 partitions and their states.
      expect(await waitFor(async () => (await partitionsOf(survivor)) === 12, 90_000, 1_000)).toBe(true);
      // The machine trips and cools; its acknowledged alarm clears to NORMAL at the survivor:
      // the same episode, carried over, not raised anew.
      expect(
        await waitFor(() => events.some((e) => e.machineId === OTHER && e.rule === 'fault'), 120_000, 250),
      ).toBe(true);
      expect(
        await waitFor(
          async () => (await cli(['command', OTHER, 'CLEAR_FAULT'])).stdout.includes('state IDLE'),
          180_000,
          3_000,
        ),
      ).toBe(true);
      expect(
        await waitFor(
          () =>
            events.some((e) => e.alarmId === alarmId && e.transition === 'CLEARED' && e.state === 'NORMAL'),
          180_000,
          500,
        ),
      ).toBe(true);
    });
    const raised = events.filter((e) => e.machineId === OTHER && e.transition === 'RAISED');
    for (const rule of new Set(raised.map((e) => e.rule))) {
      expect(raised.filter((e) => e.rule === rule).length, `rule ${rule}`).toBe(1);
    }
  }, 600_000);

  it('bad alarm commands get one clear sentence', async () => {
    const bad = await cli(['alarm', 'ack', 'not-an-alarm']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/is not an alarm id/);
    const shelve = await cli(['alarm', 'shelve', `${MACHINE}.temperature-high.1`]);
    expect(shelve.code).toBe(2);
    expect(shelve.stderr).toMatch(/needs --for/);
    const unknown = await cli(['alarm', 'ack', `${MACHINE}.temperature-high.1`]);
    expect(unknown.code).toBe(1);
    expect(unknown.stdout).toMatch(/refused .* not open/);
    const stranger = await cli(['alarm', 'ack', 'M-9999.fault.1']);
    expect(stranger.code).toBe(1);
    expect(stranger.stdout).toMatch(/no machine M-9999 in the fleet registry/);
  });
});
