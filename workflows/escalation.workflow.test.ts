/**
 * The workflows in skipped time on the Java test server: every rung of a ladder at its delay,
 * acknowledgement and clear stopping it, tickets for critical and repeating alarms, a ticket
 * escalating when its machine does not answer, and a 4-hour ladder in well under a second.
 * Activities are a fake plant (workflows/testing/plant.ts); the alarm events go through the
 * dispatcher's own code (dispatchAlarmEvent), id policies included.
 */
import type { WorkflowHandle } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { beforeAll, describe, expect, test } from 'vitest';
import type { AlarmEvent } from '../analytics/events.js';
import { dispatchAlarmEvent, startTicket } from './client.js';
import { type EscalationConfig, loadEscalationConfig, ticketPolicy } from './config.js';
import {
  acknowledgeSignal,
  closeTicketUpdate,
  escalationId,
  escalationStatusQuery,
  machineReportSignal,
  searchAttributes,
  TASK_QUEUE,
  ticketIdForAlarm,
  ticketStatusQuery,
  ticketWorkflowId,
} from './definitions.js';
import { timeSkippingEnv } from './test-env.js';
import { alarmEvent, fakePlant, keepHistory, next } from './testing/plant.js';
import type { EscalationStatus, TicketStatus } from './types.js';
import { workflowBundle } from './worker.js';

let env: TestWorkflowEnvironment;
let bundle: { code: string };
const config: EscalationConfig = loadEscalationConfig();

beforeAll(async () => {
  bundle = await workflowBundle('.test-data/workflow-bundles');
});

/**
 * Runs `body` in an environment of its own (about a second to start) with a worker on the fake
 * plant. One per test: time skipping is global to an environment, and the test server stopped
 * skipping for good after one test's child ticket ended, hanging the next test's sleep.
 */
async function withPlant(plant: ReturnType<typeof fakePlant>, body: () => Promise<void>) {
  env = await timeSkippingEnv();
  try {
    const keyword = temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD;
    await env.connection.operatorService.addSearchAttributes({
      namespace: 'default',
      searchAttributes: Object.fromEntries(Object.values(searchAttributes).map((k) => [k.name, keyword])),
    });
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue: TASK_QUEUE,
      workflowBundle: bundle,
      activities: plant.activities,
    });
    await worker.runUntil(body);
  } finally {
    await env.teardown();
  }
}

/** Waits (real time, with a deadline) for a query to satisfy `ok`. */
async function until<T>(
  read: () => Promise<T>,
  ok: (v: T) => boolean,
  what: string,
  ms = 10_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await read().catch(() => undefined);
    if (v !== undefined && ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const handle = (id: string): WorkflowHandle => env.client.workflow.getHandle(id);
const escalation = (e: AlarmEvent) => handle(escalationId(e.alarmId));
/** An event through the dispatcher's own code. */
const dispatch = (e: AlarmEvent, c: EscalationConfig = config) => dispatchAlarmEvent(env.client, e, c);
const status = (e: AlarmEvent) => escalation(e).query(escalationStatusQuery);
const ticket = (ticketId: string) => handle(ticketWorkflowId(ticketId));
const ticketStatus = (ticketId: string) => ticket(ticketId).query(ticketStatusQuery);
const rungTimes = (plant: ReturnType<typeof fakePlant>, t0: number, channel = 'log') =>
  plant.calls.notify
    .filter((c) => c.channel === channel && c.n.alarmId !== null && c.n.id.includes('/rung-'))
    .map((c) => Math.round((c.n.at - t0) / 1000));

describe('alarmEscalation', () => {
  test('a critical alarm climbs every rung at its delay and opens a ticket at once', async () => {
    const plant = fakePlant();
    await withPlant(plant, async () => {
      const raised = alarmEvent({ severity: 'critical', rule: 'temperature-high-high' });
      const t0 = await env.currentTimeMs();
      expect(await dispatch(raised)).toBe('started');
      // The ladder: operator at once, supervisor after 120 s, maintenance manager 600 s later.
      await env.sleep('13 minutes');
      const s = await status(raised);
      expect(s.rung).toBe(2);
      const times = rungTimes(plant, t0);
      expect(times).toHaveLength(3);
      expect(times[0]).toBeLessThan(5);
      expect(times[1]! - times[0]!).toBeGreaterThanOrEqual(120);
      expect(times[1]! - times[0]!).toBeLessThan(125);
      expect(times[2]! - times[1]!).toBeGreaterThanOrEqual(600);
      expect(times[2]! - times[1]!).toBeLessThan(605);
      expect(plant.calls.notify.map((c) => c.n.role)).toEqual(
        expect.arrayContaining(['operator', 'supervisor', 'maintenance-manager']),
      );
      // Each rung on each of its channels (log and the UI's NATS subject).
      expect(plant.calls.notify.filter((c) => c.channel === 'ui' && c.n.id.includes('/rung-'))).toHaveLength(
        3,
      );

      // The ticket: opened by the escalation, the machine commanded into MAINTENANCE.
      const ticketId = ticketIdForAlarm(raised.alarmId);
      expect(s.ticketId).toBe(ticketId);
      const t = await until(
        () => ticketStatus(ticketId),
        (t) => t.stage === 'IN_MAINTENANCE',
        'the ticket in maintenance',
      );
      expect(t.alarmIds).toEqual([raised.alarmId]);
      // ... and the operator hears of it (a step added in v2, behind a patch).
      expect(
        plant.calls.notify.filter((c) => c.n.id.includes('/ticket-opened/')).map((c) => c.n.role),
      ).toContain('operator');
      expect(plant.calls.commands[0]).toMatchObject({
        machineId: 'M-0003',
        type: 'START_MAINTENANCE',
        ticketId,
      });

      // Repaired: closing returns the machine to service and records the repair time.
      await env.sleep('45 minutes');
      const closed = await ticket(ticketId).executeUpdate(closeTicketUpdate, {
        args: [{ by: 'tech-7', note: 'replaced the coolant pump' }],
      });
      expect(closed.ok).toBe(true);
      const result = (await ticket(ticketId).result()) as TicketStatus;
      expect(result.stage).toBe('CLOSED');
      expect(plant.machine.state).toBe('RUNNING');
      const repair = plant.calls.repairs[0]!;
      expect(repair.outcome).toBe('repaired');
      expect((repair.backInServiceAt! - repair.inMaintenanceAt!) / 60_000).toBeGreaterThanOrEqual(45);

      // The ticket resolves the alarm (acknowledging it with the analytics processor); it ends
      // when the processor reports it back to normal.
      await until(
        () => status(raised),
        (s) => s.resolvedBy === `ticket ${ticketId}`,
        'the alarm resolved',
      );
      expect(plant.calls.acks).toEqual([{ alarmId: raised.alarmId, by: `ticket ${ticketId}` }]);
      await dispatch(
        next(raised, 2, { transition: 'ACKNOWLEDGED', state: 'ACTIVE_ACKED', by: `ticket ${ticketId}` }),
      );
      await dispatch(next(raised, 3, { transition: 'CLEARED', state: 'NORMAL' }));
      const end = (await escalation(raised).result()) as EscalationStatus;
      expect(end.state).toBe('NORMAL');
      await keepHistory('critical-ladder-ticket', escalation(raised));
      await keepHistory('ticket-repaired', ticket(ticketId));
    });
  });

  test('an acknowledgement stops the ladder; it goes to the alarm owner, which has the last word', async () => {
    const plant = fakePlant();
    await withPlant(plant, async () => {
      const raised = alarmEvent({ severity: 'high', rule: 'temperature-high' });
      await dispatch(raised);
      await env.sleep('1 minute');
      await escalation(raised).signal(acknowledgeSignal, { by: 'ana' });
      await until(
        () => status(raised),
        (s) => s.acknowledgedBy === 'ana',
        'the acknowledgement',
      );
      expect(plant.calls.acks).toEqual([{ alarmId: raised.alarmId, by: 'ana' }]);
      // An hour later nobody above the operator was told.
      await env.sleep('1 hour');
      expect(new Set(plant.calls.notify.map((c) => c.n.role))).toEqual(new Set(['operator']));
      expect((await status(raised)).rung).toBe(0);
      // The owner's events: acknowledged, then cleared to normal, which ends the escalation.
      await dispatch(next(raised, 2, { transition: 'ACKNOWLEDGED', state: 'ACTIVE_ACKED', by: 'ana' }));
      await dispatch(next(raised, 3, { transition: 'CLEARED', state: 'NORMAL' }));
      const end = (await escalation(raised).result()) as EscalationStatus;
      expect(end.state).toBe('NORMAL');
      expect(end.ticketId).toBeNull();
      expect(end.history.map((h) => h.what)).toEqual(
        expect.arrayContaining(["acknowledged by ana; the alarm's owner accepted it", 'cleared: now NORMAL']),
      );
      await keepHistory('acknowledged', escalation(raised));
    });
  });

  test('a clear pauses the ladder; coming back resumes it and, repeated, opens a ticket', async () => {
    // The rule was raised once before within the hour: this episode plus one reactivation makes 3.
    const plant = fakePlant({ earlierRaises: 1 });
    await withPlant(plant, async () => {
      const raised = alarmEvent({ severity: 'medium', rule: 'temperature-stuck', machineId: 'M-0006' });
      await dispatch(raised);
      await dispatch(next(raised, 2, { transition: 'CLEARED', state: 'CLEARED_UNACK' }));
      // Cleared: the supervisor's rung (30 min) does not come while it stays clear.
      await env.sleep('2 hours');
      expect(plant.calls.notify.filter((c) => c.n.role === 'supervisor')).toHaveLength(0);
      expect((await status(raised)).ticketId).toBeNull();
      await dispatch(next(raised, 3, { transition: 'REACTIVATED', state: 'ACTIVE_UNACK' }));
      const s = await until(
        () => status(raised),
        (s) => s.ticketId !== null,
        'a ticket for the repeat',
      );
      expect(s.reactivations).toBe(1);
      const t = await until(
        () => ticketStatus(s.ticketId!),
        (t) => t.stage === 'IN_MAINTENANCE',
        'the repeat ticket',
      );
      expect(t.reason).toMatch(/temperature-stuck came back 3 times/);
      await env.sleep('31 minutes');
      expect(
        plant.calls.notify.filter(
          (c) => c.n.role === 'supervisor' && c.channel === 'log' && c.n.alarmId === raised.alarmId,
        ),
      ).toHaveLength(1);
      await dispatch(next(raised, 4, { transition: 'ACKNOWLEDGED', state: 'ACTIVE_ACKED', by: 'bo' }));
      await dispatch(next(raised, 5, { transition: 'CLEARED', state: 'NORMAL' }));
      await escalation(raised).result();
      await keepHistory('cleared-reactivated-repeat-ticket', escalation(raised));
      const closed = await ticket(s.ticketId!).executeUpdate(closeTicketUpdate, {
        args: [{ by: 'bo', note: 'recalibrated the sensor' }],
      });
      expect(closed.ok).toBe(true);
      await ticket(s.ticketId!).result();
    });
  });

  test('a redelivered event starts nothing new and changes nothing', async () => {
    const plant = fakePlant();
    await withPlant(plant, async () => {
      const raised = alarmEvent({ severity: 'low', rule: 'speed-baseline' });
      expect(await dispatch(raised)).toBe('started');
      const first = await escalation(raised).describe();
      expect(await dispatch(raised)).toBe('duplicate');
      expect((await escalation(raised).describe()).runId).toBe(first.runId);
      const cleared = next(raised, 2, { transition: 'CLEARED', state: 'CLEARED_UNACK' });
      await dispatch(cleared);
      await dispatch(cleared);
      const s = await until(
        () => status(raised),
        (s) => s.state === 'CLEARED_UNACK',
        'the clear',
      );
      expect(s.history.filter((h) => h.what.startsWith('cleared'))).toHaveLength(1);
      await dispatch(next(raised, 3, { transition: 'ACKNOWLEDGED', state: 'NORMAL', by: 'cy' }));
      await escalation(raised).result();
      // After the end: the raise again is refused by the reuse policy, a late event finds nothing.
      expect(await dispatch(raised)).toBe('duplicate');
      expect(await dispatch(next(raised, 4, { transition: 'CLEARED', state: 'NORMAL' }))).toBe('ended');
      expect(plant.calls.notify.filter((c) => c.channel === 'log')).toHaveLength(1);
    });
  });

  test('a critical alarm on a machine outside the ticket scope escalates but opens no ticket', async () => {
    const plant = fakePlant();
    await withPlant(plant, async () => {
      const scoped: EscalationConfig = { ...config, tickets: { ...config.tickets, machines: ['line-2/*'] } };
      const raised = alarmEvent({ severity: 'critical', rule: 'temperature-high-high' });
      expect(await dispatch(raised, scoped)).toBe('started');
      await env.sleep('3 minutes');
      const s = await status(raised);
      expect(s.rung).toBe(1);
      expect(s.ticketId).toBeNull();
      expect(plant.calls.commands).toEqual([]);
      expect(plant.calls.notify.filter((c) => c.n.id.includes('/ticket-opened/'))).toEqual([]);
    });
  });

  test('a 4-hour ladder runs in well under a second of wall time', async () => {
    const plant = fakePlant();
    await withPlant(plant, async () => {
      const long: EscalationConfig = {
        ...config,
        ladders: {
          ...config.ladders,
          high: [
            { role: 'operator', afterS: 0, channels: ['log'] },
            { role: 'supervisor', afterS: 600, channels: ['log'] },
            { role: 'supervisor', afterS: 3000, channels: ['log'] },
            { role: 'maintenance-manager', afterS: 10_800, channels: ['log'] },
          ],
        },
      };
      const raised = alarmEvent({ severity: 'high', rule: 'vibration-baseline' });
      await dispatch(raised, long);
      await until(
        () => status(raised),
        (s) => s.rung === 0,
        'the first rung',
      );
      const t0 = await env.currentTimeMs();
      const wall = Date.now();
      await env.sleep('4 hours');
      const wallMs = Date.now() - wall;
      const s = await until(
        () => status(raised),
        (s) => s.rung === 3,
        'the last rung',
      );
      expect(s.rung).toBe(3);
      expect(wallMs).toBeLessThan(1_000);
      expect((await env.currentTimeMs()) - t0).toBeGreaterThanOrEqual(4 * 3_600_000);
      process.stdout.write(`[workflows] 4-hour ladder: ${wallMs} ms of wall time\n`);
    });
  });
});

describe('maintenanceTicket', () => {
  const input = (ticketId: string, machineId = 'M-0009') => ({
    ticketId,
    machineId,
    site: 'plant-1',
    line: 'line-2',
    reason: 'spindle noise',
    openedBy: 'ana',
    alarmIds: [],
    policy: ticketPolicy(config),
    roles: config.roles,
  });

  test('a machine that does not answer is escalated; closing before it answers cancels the ticket', async () => {
    const plant = fakePlant();
    plant.machine.silent = true;
    await withPlant(plant, async () => {
      await startTicket(env.client, input('T-silent'));
      await env.sleep(`${config.tickets.respondWithinS + config.tickets.checkEveryS + 5} seconds`);
      const late = plant.calls.notify.filter((c) => c.n.id.includes('/late-response/'));
      expect(late.map((c) => c.n.role)).toContain('maintenance-manager');
      expect(late[0]!.n.subject).toMatch(/M-0009 has not entered MAINTENANCE/);
      expect(plant.calls.commands.filter((c) => c.type === 'START_MAINTENANCE').length).toBeGreaterThan(1);
      const closed = await ticket('T-silent').executeUpdate(closeTicketUpdate, {
        args: [{ by: 'ana', note: 'false alarm' }],
      });
      expect(closed.ok).toBe(true);
      const end = (await ticket('T-silent').result()) as TicketStatus;
      expect(end.inMaintenanceAt).toBeNull();
      expect(plant.calls.repairs[0]!.outcome).toBe('cancelled');
      await keepHistory('ticket-silent-cancelled', ticket('T-silent'));
    });
  });

  test('a hot machine refuses to return to service; the ticket stays open until it can; overdue is escalated', async () => {
    const plant = fakePlant();
    await withPlant(plant, async () => {
      await startTicket(env.client, input('T-hot'));
      await until(
        () => ticketStatus('T-hot'),
        (t) => t.stage === 'IN_MAINTENANCE',
        'maintenance',
      );
      plant.machine.tooHot = 'temperature 93.0 °C is not below the reset level 60 °C';
      const refused = await ticket('T-hot').executeUpdate(closeTicketUpdate, {
        args: [{ by: 'tech-7', note: 'done' }],
      });
      expect(refused).toEqual({
        ok: false,
        reason: `M-0009 did not return to service: ${plant.machine.tooHot}`,
      });
      expect((await ticketStatus('T-hot')).stage).toBe('IN_MAINTENANCE');
      await env.sleep(`${config.tickets.repairWithinS + config.tickets.checkEveryS} seconds`);
      expect(plant.calls.notify.some((c) => c.n.id.includes('/overdue/'))).toBe(true);
      plant.machine.tooHot = null;
      const ok = await ticket('T-hot').executeUpdate(closeTicketUpdate, {
        args: [{ by: 'tech-7', note: 'cooled, pump replaced' }],
      });
      expect(ok.ok).toBe(true);
      await ticket('T-hot').result();
      expect(plant.calls.repairs[0]).toMatchObject({ outcome: 'repaired', closedBy: 'tech-7' });
    });
  });

  test('a machine already held by another ticket: the new ticket joins it', async () => {
    const plant = fakePlant();
    plant.machine.state = 'MAINTENANCE';
    plant.machine.ticketId = 'T-first';
    await withPlant(plant, async () => {
      await startTicket(env.client, input('T-second'));
      const end = (await ticket('T-second').result()) as TicketStatus;
      expect(end).toMatchObject({ stage: 'MERGED', mergedInto: 'T-first' });
      expect(plant.calls.repairs[0]!.outcome).toBe('merged');
    });
  });

  test("a close whose machine's RUNNING report beats the command's answer is still the close", async () => {
    const plant = fakePlant({
      onReturn: (ticketId, report) => ticket(ticketId).signal(machineReportSignal, report),
    });
    await withPlant(plant, async () => {
      await startTicket(env.client, input('T-race'));
      await until(
        () => ticketStatus('T-race'),
        (t) => t.stage === 'IN_MAINTENANCE',
        'maintenance',
      );
      const closed = await ticket('T-race').executeUpdate(closeTicketUpdate, {
        args: [{ by: 'tech-3', note: 'new belt' }],
      });
      expect(closed.ok).toBe(true);
      const end = (await ticket('T-race').result()) as TicketStatus;
      expect(end).toMatchObject({ stage: 'CLOSED', closedBy: 'tech-3', note: 'new belt' });
      expect(plant.calls.repairs[0]).toMatchObject({ outcome: 'repaired', closedBy: 'tech-3' });
      await keepHistory('ticket-close-race', ticket('T-race'));
    });
  });

  test('a machine back in service by another path closes its ticket', async () => {
    const plant = fakePlant();
    await withPlant(plant, async () => {
      await startTicket(env.client, input('T-elsewhere'));
      await until(
        () => ticketStatus('T-elsewhere'),
        (t) => t.stage === 'IN_MAINTENANCE',
        'maintenance',
      );
      // Someone completes the maintenance at the machine; the ticket finds out by asking.
      plant.machine.state = 'RUNNING';
      plant.machine.ticketId = null;
      plant.machine.seq += 1;
      await env.sleep(`${config.tickets.checkEveryS + 1} seconds`);
      const end = (await ticket('T-elsewhere').result()) as TicketStatus;
      expect(end.stage).toBe('CLOSED');
      expect(end.closedBy).toBe("M-0009's owner");
      expect(plant.calls.repairs[0]!.outcome).toBe('repaired');
    });
  });
});
