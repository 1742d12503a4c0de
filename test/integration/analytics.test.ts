import type { Consumer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { followAlarmEvents } from '../../analytics/alarm-feed.js';
import type { AlarmEvent } from '../../analytics/events.js';
import { paths } from '../../common/config.js';
import { readPidFile, waitFor } from '../../infra/supervisor/process.js';
import { factory, testConfig } from './stack-env.js';

/**
 * Alarms end to end on the real servers: `factory inject` → worker → MQTT → bridge → Kafka →
 * analytics → `alarms` topic, `factory alarm ack` back through `alarm-commands`, and a SIGKILLed
 * analytics process that comes back without raising anything twice.
 */
const config = testConfig();
const MACHINE = 'M-0003';
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

afterAll(async () => {
  await consumer?.disconnect();
  await cli(['command', MACHINE, 'CLEAR_FAULT']);
  await cli(['command', MACHINE, 'START']);
});

describe('analytics on the live stack', () => {
  it('an injected overheat raises one alarm per rule, survives a SIGKILL of analytics, clears, and is acknowledged', async () => {
    // Held IDLE (powered, so the overheat heats it; the chain does not move a stopped machine).
    expect((await cli(['command', MACHINE, 'STOP'])).code).toBe(0);
    const injected = await cli(['inject', MACHINE, 'overheat', '--param', 'extraC=300']);
    expect(injected.code, injected.out).toBe(0);

    // 300 °C above ambient: past the 78 °C high limit within about a minute.
    expect(await waitFor(() => raisedIds('temperature-high').size > 0, 150_000, 250)).toBe(true);
    const [alarmId] = [...raisedIds('temperature-high')];
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
    expect(await waitFor(() => cleared(alarmId!), 180_000, 500)).toBe(true);
    expect(await waitFor(() => cleared([...raisedIds('fault')][0]!), 60_000, 500)).toBe(true);

    const list = await cli(['alarm', 'list']);
    expect(list.stdout).toContain(alarmId);
    expect(list.stdout).toMatch(/cleared, unacked/);

    const ack = await cli(['alarm', 'ack', alarmId!, '--by', 'tester']);
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
    const again = await cli(['alarm', 'ack', alarmId!, '--by', 'tester']);
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
  });
});
