import { mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import type { Consumer, Producer } from 'kafkajs';
import type { NatsConnection, Subscription } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { followAlarmEvents, type SeenAlarmEvent } from '../../analytics/alarm-feed.js';
import type { AlarmEvent } from '../../analytics/events.js';
import { formatAddress, paths } from '../../common/config.js';
import { silentLogger } from '../../common/log.js';
import { subjects } from '../../common/machine-commands.js';
import { connectNats } from '../../common/nats.js';
import { TOPICS } from '../../common/topics.js';
import { openAlarmsQuery } from '../../infra/servers/temporal.js';
import { readWorkflowsHealthz } from '../../infra/servers/workflows.js';
import { readPidFile, waitFor } from '../../infra/supervisor/process.js';
import { pipelineInflux } from '../../pipeline/influx.js';
import { pipelineKafka, reliableProducer } from '../../pipeline/kafka.js';
import {
  acknowledgeSignal,
  escalationId,
  escalationStatusQuery,
  ticketIdForAlarm,
  ticketStatusQuery,
  ticketWorkflowId,
} from '../../workflows/definitions.js';
import { alarmEvent, next } from '../../workflows/testing/plant.js';
import type { EscalationStatus, TicketStatus } from '../../workflows/types.js';
import { screenshotTemporalAlarms } from '../support/browser.js';
import { factory, testConfig } from './stack-env.js';

/**
 * The Temporal loop on the real stack: an injected overheat on M-0009 raises a critical alarm,
 * the dispatcher starts its escalation, the escalation opens a ticket, the ticket sends the
 * machine into MAINTENANCE through its worker, `factory ticket close` returns it to service and
 * the repair time lands in InfluxDB. Synthetic alarm events on `alarms` (machines outside the
 * fleet) check that a redelivered raise starts one workflow and that a SIGKILLed workflow worker
 * loses no rung. The suite's ladders are in seconds (test/integration/fixtures/escalation.yaml).
 */
const config = testConfig();
/** Kept after the run (CI can upload them): the UI screenshot. */
const artefacts = join(config.dataDir, '..', 'artefacts');
const MACHINE = 'M-0009';
/** Outside the tickets' scope (fixtures/escalation.yaml): acknowledged by a person. */
const PERSON_ACKS = 'M-0008';
const events: SeenAlarmEvent[] = [];
const notes: { alarmId: string | null; id: string; role: string; at: number }[] = [];
let alarmsFeed: Consumer;
let producer: Producer;
let nc: NatsConnection;
let notifications: Subscription;
let connection: Connection;
let client: Client;

async function cli(args: string[]) {
  const r = await factory(args);
  return { ...r, out: `${r.stdout}${r.stderr}` };
}

beforeAll(async () => {
  mkdirSync(artefacts, { recursive: true });
  alarmsFeed = await followAlarmEvents(config, 'workflows-test', (e) => events.push(e));
  producer = reliableProducer(pipelineKafka(config, 'workflows-test', silentLogger, 'admin'));
  await producer.connect();
  nc = await connectNats(config, 'workflows-test', 'admin');
  // What the UI channel tells people, as the live view would hear it.
  notifications = nc.subscribe('factory.notifications.>', {
    callback: (_e, msg) => {
      const n = msg.json<{ alarmId: string | null; id: string; role: string }>();
      notes.push({ alarmId: n.alarmId, id: n.id, role: n.role, at: Date.now() });
    },
  });
  connection = await Connection.connect({ address: formatAddress(config.temporal) });
  client = new Client({ connection, namespace: config.temporalNamespace });
}, 60_000);

afterAll(async () => {
  notifications?.unsubscribe();
  await nc?.close();
  await alarmsFeed?.disconnect();
  await producer?.disconnect();
  await connection?.close();
  for (const m of [MACHINE, PERSON_ACKS]) {
    await cli(['command', m, 'CLEAR_FAULT']);
    await cli(['command', m, 'START']);
  }
}, 120_000);

/** Polls `read` until `ok`, with a deadline; the error says what was awaited and what was last seen. */
async function until<T>(read: () => Promise<T>, ok: (v: T) => boolean, what: string, ms: number): Promise<T> {
  let last: T | undefined;
  const seen = await waitFor(
    async () => {
      last = await read().catch(() => undefined);
      return last !== undefined && ok(last);
    },
    ms,
    500,
  );
  if (!seen) throw new Error(`timed out after ${ms} ms waiting for ${what}; last: ${JSON.stringify(last)}`);
  return last!;
}

const escalation = (alarmId: string): WorkflowHandle => client.workflow.getHandle(escalationId(alarmId));
const escalationStatus = (alarmId: string) => escalation(alarmId).query(escalationStatusQuery);
const ticketStatus = (ticketId: string) =>
  client.workflow.getHandle(ticketWorkflowId(ticketId)).query(ticketStatusQuery);
const counters = async () => (await readWorkflowsHealthz(config, 1)).counters;

/** An alarm event on `alarms` as the analytics processor writes it (key: the machine). */
const publish = (e: AlarmEvent) =>
  producer.send({
    topic: TOPICS.alarms,
    acks: -1,
    messages: [{ key: e.machineId ?? `${e.site}/${e.line}`, value: JSON.stringify(e) }],
  });

/** What the machine's owning worker says about it now. */
async function machineState(machineId: string): Promise<string> {
  const answer = await nc.request(subjects.query(machineId), '', { timeout: 3_000 });
  return String(answer.json<{ state: string }>().state);
}

describe('Temporal workflows on the live stack', () => {
  it('overheat → critical alarm → escalation → ticket → MAINTENANCE → closed → back in service, repair time in InfluxDB', async () => {
    // Held IDLE and heated 300 °C above ambient, as the analytics suite does (the chain never moves it).
    expect(
      await waitFor(async () => (await cli(['command', MACHINE, 'STOP'])).code === 0, 90_000, 2_000),
    ).toBe(true);
    expect((await cli(['inject', MACHINE, 'overheat', '--param', 'extraC=300'])).code).toBe(0);
    const raised = (severity: string, rule?: string) =>
      events.find(
        (e) =>
          e.machineId === MACHINE &&
          e.transition === 'RAISED' &&
          e.severity === severity &&
          (rule === undefined || e.rule === rule),
      );
    expect(await waitFor(() => raised('critical') !== undefined, 240_000, 250)).toBe(true);
    const critical = raised('critical')!;

    // The dispatcher starts `alarm-{alarmId}`, searchable by machine, line, severity and rule.
    const started = await until(
      () => escalation(critical.alarmId).describe(),
      () => true,
      'the escalation to start',
      10_000,
    );
    expect(started.type).toBe('alarmEscalation');
    expect(started.taskQueue).toBe('factory-alarms');
    const listed = await until(
      async () => {
        const found: string[] = [];
        for await (const w of client.workflow.list({
          query: `machine = "${MACHINE}" AND severity = "critical" AND rule = "${critical.rule}"`,
        }))
          found.push(w.workflowId);
        return found;
      },
      (found) => found.includes(escalationId(critical.alarmId)),
      'the escalation in a search by its attributes',
      30_000,
    );
    expect(listed).toContain(escalationId(critical.alarmId));
    // What an operator sees: the UI's list of open alarms (the link `factory up` prints) showing it.
    const shot = await screenshotTemporalAlarms({
      uiUrl: `http://${formatAddress(config.temporalUi)}`,
      namespace: config.temporalNamespace,
      query: openAlarmsQuery,
      file: join(artefacts, 'temporal-ui-alarms.png'),
      expectText: escalationId(critical.alarmId),
      timeoutMs: 60_000,
    });
    expect(statSync(shot).size).toBeGreaterThan(20_000);

    // The ticket: opened by the escalation, the machine reported in MAINTENANCE by its worker.
    const ticketId = ticketIdForAlarm(critical.alarmId);
    const inMaintenance = await until(
      () => ticketStatus(ticketId),
      (t) => t.stage === 'IN_MAINTENANCE',
      'the ticket to see the machine in MAINTENANCE',
      90_000,
    );
    expect(inMaintenance.alarmIds).toContain(critical.alarmId);
    expect(await machineState(MACHINE)).toBe('MAINTENANCE');
    const list = await cli(['ticket', 'list']);
    expect(list.stdout).toMatch(
      new RegExp(`${ticketId.replaceAll('.', '\\.')}\\s+${MACHINE}\\s+IN_MAINTENANCE`),
    );
    // The operator heard of it on the UI's subject.
    expect(notes.some((n) => n.id.includes(`alarm-${critical.alarmId}/ticket-opened/`))).toBe(true);

    // A technician lets the machine cool below the critical limit before handing it back, so the
    // alarm can clear once it runs (returning to service only needs it below the trip's reset).
    const influx = pipelineInflux(config, 'reader');
    await until(
      async () =>
        (
          await influx.query<{ last: number }>(
            `SELECT last(temperature) FROM raw.telemetry WHERE machine = '${MACHINE}' AND time > now() - 1m`,
          )
        )[0]?.last ?? Number.POSITIVE_INFINITY,
      (t) => t < critical.limit! - 4,
      `${MACHINE} to cool below ${critical.limit! - 4} °C in MAINTENANCE`,
      400_000,
    );
    // Repaired: the close is refused while the machine is too hot, so try until it has cooled.
    let close: Awaited<ReturnType<typeof cli>> | undefined;
    expect(
      await waitFor(
        async () => {
          close = await cli(['ticket', 'close', ticketId, '--note', 'replaced the coolant pump']);
          return close.code === 0;
        },
        240_000,
        5_000,
      ),
      close?.out,
    ).toBe(true);
    expect(close!.stdout).toMatch(/back in service after \d+ s of repair/);
    const closed = (await client.workflow.getHandle(ticketWorkflowId(ticketId)).result()) as TicketStatus;
    expect(closed.stage).toBe('CLOSED');
    expect(closed.note).toBe('replaced the coolant pump');
    expect(closed.backInServiceAt! - closed.inMaintenanceAt!).toBeGreaterThan(0);
    expect(await machineState(MACHINE)).toBe('RUNNING');

    // The repair time, in InfluxDB for the dashboards.
    const rows = await until(
      () =>
        influx.query<{ event: string; repair_s: number; machine: string }>(
          `SELECT * FROM rollup_1m.tickets WHERE ticket_id = '${ticketId}'`,
        ),
      (rows) => rows.some((r) => r.event === 'repaired'),
      'the repair in InfluxDB',
      30_000,
    );
    const repaired = rows.find((r) => r.event === 'repaired')!;
    expect(repaired.machine).toBe(MACHINE);
    expect(repaired.repair_s).toBeCloseTo((closed.backInServiceAt! - closed.inMaintenanceAt!) / 1000, 0);

    // The escalation ends once its owner reports the alarm back to normal (acknowledged by the
    // ticket's resolve, or cleared while the machine was suppressed in MAINTENANCE).
    const end = await until(
      async () => (await escalation(critical.alarmId).describe()).status.name,
      (s) => s === 'COMPLETED',
      'the escalation to complete',
      180_000,
    );
    expect(end).toBe('COMPLETED');
    const result = (await escalation(critical.alarmId).result()) as EscalationStatus;
    expect(result.state).toBe('NORMAL');
    expect(result.ticketId).toBe(ticketId);
  }, 900_000);

  it("an acknowledgement made in the workflow goes to the alarm's owner and comes back on alarms", async () => {
    // A machine outside the tickets' scope: its alarms stay unsuppressed, so they await a person.
    expect(
      await waitFor(async () => (await cli(['command', PERSON_ACKS, 'STOP'])).code === 0, 90_000, 2_000),
    ).toBe(true);
    expect((await cli(['inject', PERSON_ACKS, 'overheat', '--param', 'extraC=300'])).code).toBe(0);
    const raisedHigh = () =>
      events.find(
        (e) => e.machineId === PERSON_ACKS && e.transition === 'RAISED' && e.rule === 'temperature-high',
      );
    expect(await waitFor(() => raisedHigh() !== undefined, 240_000, 250)).toBe(true);
    const high = raisedHigh()!;
    await until(
      () => escalationStatus(high.alarmId),
      (s) => s.state === 'ACTIVE_UNACK',
      "the high alarm's escalation",
      15_000,
    );
    // As the UI would: a signal to the workflow, not a command to analytics.
    await escalation(high.alarmId).signal(acknowledgeSignal, { by: 'ui-tester' });
    expect(
      await waitFor(
        () =>
          events.some(
            (e) => e.alarmId === high.alarmId && e.transition === 'ACKNOWLEDGED' && e.by === 'ui-tester',
          ),
        30_000,
        250,
      ),
    ).toBe(true);
    const acked = await until(
      () => escalationStatus(high.alarmId),
      (s) => s.acknowledgedBy === 'ui-tester' && s.state === 'ACTIVE_ACKED',
      'the workflow to record the acknowledgement',
      15_000,
    );
    expect(acked.history.some((h) => h.what.includes("the alarm's owner accepted it"))).toBe(true);
  }, 600_000);

  it('the same alarm event delivered twice starts one workflow', async () => {
    const before = await counters();
    const raise = alarmEvent({
      machineId: 'X-0101',
      alarmId: `X-0101.speed-baseline.${Date.now()}`,
      severity: 'low',
      rule: 'speed-baseline',
    });
    await publish(raise);
    await publish(raise);
    const after = await until(
      counters,
      (c) => (c.duplicate ?? 0) > (before.duplicate ?? 0) && (c.started ?? 0) > (before.started ?? 0),
      'one start and one duplicate',
      30_000,
    );
    expect((after.started ?? 0) - (before.started ?? 0)).toBe(1);
    const runs: string[] = [];
    for await (const w of client.workflow.list({ query: `WorkflowId = "${escalationId(raise.alarmId)}"` }))
      runs.push(w.runId);
    expect(runs).toHaveLength(1);
    const s = await escalationStatus(raise.alarmId);
    expect(s.history.filter((h) => h.what.includes('raised'))).toHaveLength(1);
    // Its end, through the dispatcher: acknowledged, then cleared to normal.
    await publish(next(raise, 2, { transition: 'ACKNOWLEDGED', state: 'ACTIVE_ACKED', by: 'tester' }));
    await publish(next(raise, 3, { transition: 'CLEARED', state: 'NORMAL' }));
    const result = (await escalation(raise.alarmId).result()) as EscalationStatus;
    expect(result.state).toBe('NORMAL');
    expect(result.acknowledgedBy).toBe('tester');
  }, 120_000);

  it('a workflow worker SIGKILLed mid-ladder loses no rung', async () => {
    const raise = alarmEvent({
      machineId: 'X-0102',
      alarmId: `X-0102.temperature-high.${Date.now()}`,
      severity: 'high',
      rule: 'temperature-high',
    });
    const rungs = () =>
      notes.filter((n) => n.alarmId === raise.alarmId && /\/rung-\d+\/ui$/.test(n.id)).map((n) => n.id);
    await publish(raise);
    expect(await waitFor(() => rungs().length >= 1, 30_000, 100)).toBe(true);

    // The first rung told, the second 15 s away: kill the only workflow worker. The keeper restarts it.
    const pidFile = paths(config).pid('workflows-1');
    const victim = readPidFile(pidFile)!;
    process.kill(victim.pid, 'SIGKILL');
    expect(
      await waitFor(
        async () => {
          const now = readPidFile(pidFile);
          if (!now || now.pid === victim.pid) return false;
          return (await readWorkflowsHealthz(config, 1).catch(() => undefined))?.ok === true;
        },
        120_000,
        500,
      ),
    ).toBe(true);

    // Every rung, each once, in order, none before its delay (15 s, then 15 s more).
    const told = await until(
      async () => escalationStatus(raise.alarmId),
      (s) => s.rung === 2,
      'the third rung',
      90_000,
    );
    expect(told.history.filter((h) => h.what.startsWith('told ')).map((h) => h.what)).toEqual([
      expect.stringContaining('operator on shift'),
      expect.stringContaining('shift supervisor'),
      expect.stringContaining('maintenance manager'),
    ]);
    expect(await waitFor(() => rungs().length >= 3, 15_000, 100)).toBe(true);
    expect([...new Set(rungs())].map((id) => /rung-(\d+)/.exec(id)![1])).toEqual(['0', '1', '2']);
    const at = (rung: number) =>
      notes.find((n) => n.alarmId === raise.alarmId && n.id.includes(`/rung-${rung}/`))!.at;
    expect(at(1) - at(0)).toBeGreaterThanOrEqual(14_000);
    expect(at(2) - at(1)).toBeGreaterThanOrEqual(14_000);

    await publish(next(raise, 2, { transition: 'ACKNOWLEDGED', state: 'ACTIVE_ACKED', by: 'tester' }));
    await publish(next(raise, 3, { transition: 'CLEARED', state: 'NORMAL' }));
    expect(((await escalation(raise.alarmId).result()) as EscalationStatus).state).toBe('NORMAL');
  }, 300_000);
});
