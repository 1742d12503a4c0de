/**
 * A fake plant for workflow tests: activities that record what they were asked and a machine
 * that answers commands the way an owning worker does (MAINTENANCE for a ticket, refusals).
 * Fakes are for the skipped-time tests only; the real activities run against the real servers
 * in test/integration/workflows.test.ts.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import type { AlarmEvent } from '../../analytics/events.js';
import type { Activities } from '../activities.js';
import type { CommandOutcome, MachineReport, Notification, RepairRecord } from '../types.js';

export interface FakeMachine {
  state: string;
  ticketId: string | null;
  /** No answer to commands at all (its worker is gone). */
  silent: boolean;
  /** COMPLETE_MAINTENANCE is refused with this reason while set. */
  tooHot: string | null;
  /** Rises with every change, as a machine's telemetry seq does. */
  seq: number;
}

export function fakePlant(
  opts: {
    earlierRaises?: number;
    /** Runs when the machine returns to service, before the command's answer: its state event racing it. */
    onReturn?: (ticketId: string, report: MachineReport) => Promise<void>;
  } = {},
) {
  const machine: FakeMachine = { state: 'RUNNING', ticketId: null, silent: false, tooHot: null, seq: 1 };
  const calls = {
    notify: [] as { n: Notification; channel: string }[],
    commands: [] as { machineId: string; type: string; ticketId?: string }[],
    acks: [] as { alarmId: string; by: string }[],
    opened: [] as string[],
    repairs: [] as RepairRecord[],
  };
  const activities: Activities = {
    async notify(n, channel) {
      calls.notify.push({ n, channel });
    },
    async commandMachine(machineId, command): Promise<CommandOutcome> {
      calls.commands.push({ machineId, ...command });
      if (machine.silent) return { ok: false, noAnswer: true, reason: 'no answer within 15 s' };
      machine.seq += 1;
      const held = { state: machine.state, ticketId: machine.ticketId, seq: machine.seq };
      if (command.type === 'START_MAINTENANCE') {
        if (machine.state === 'MAINTENANCE' && machine.ticketId && machine.ticketId !== command.ticketId)
          return { ok: false, reason: `already in MAINTENANCE for ticket ${machine.ticketId}`, ...held };
        machine.state = 'MAINTENANCE';
        machine.ticketId = command.ticketId ?? null;
        return { ok: true, state: machine.state, ticketId: machine.ticketId, seq: machine.seq };
      }
      if (machine.state !== 'MAINTENANCE')
        return {
          ok: false,
          reason: `COMPLETE_MAINTENANCE applies in MAINTENANCE; the machine is ${machine.state}`,
          ...held,
        };
      if (machine.tooHot) return { ok: false, reason: machine.tooHot, ...held };
      machine.state = 'RUNNING';
      machine.ticketId = null;
      if (command.ticketId)
        await opts.onReturn?.(command.ticketId, {
          state: 'RUNNING',
          ticketId: null,
          seq: machine.seq,
          ts: Date.now(),
        });
      return { ok: true, state: machine.state, ticketId: null, seq: machine.seq };
    },
    async acknowledgeAlarm(alarmId, by) {
      calls.acks.push({ alarmId, by });
      return { ok: true, state: 'ACTIVE_ACKED', ticketId: null };
    },
    async machineStatus(): Promise<MachineReport | null> {
      return machine.silent
        ? null
        : { state: machine.state, ticketId: machine.ticketId, seq: ++machine.seq, ts: Date.now() };
    },
    async recentRaises() {
      return opts.earlierRaises ?? 0;
    },
    async recordTicket(e) {
      calls.opened.push(e.ticketId);
    },
    async recordRepair(r) {
      calls.repairs.push(r);
    },
  };
  return { machine, calls, activities };
}

let seq = 1000;

/** An alarm event as the analytics processor writes it on `alarms`. */
export function alarmEvent(over: Partial<AlarmEvent> & Pick<AlarmEvent, 'severity' | 'rule'>): AlarmEvent {
  const machineId = over.machineId === undefined ? 'M-0003' : over.machineId;
  const alarmId = over.alarmId ?? `${machineId}.${over.rule}.${++seq}`;
  return {
    v: 1,
    eventId: `${alarmId}#1`,
    alarmId,
    transition: 'RAISED',
    state: 'ACTIVE_UNACK',
    machineId,
    site: 'plant-1',
    line: 'line-1',
    machineType: 'cnc-mill',
    kind: 'limit',
    field: 'temperatureC',
    value: 87.2,
    limit: 86,
    ts: Date.now(),
    raisedAt: Date.now(),
    conditionSince: Date.now(),
    by: null,
    shelvedUntil: null,
    flood: null,
    message: 'temperature 87.2 °C above 86 °C',
    ...over,
  };
}

/** The next transition of the same alarm. */
export const next = (
  e: AlarmEvent,
  n: number,
  change: Pick<AlarmEvent, 'transition' | 'state'> & { by?: string },
): AlarmEvent => ({
  ...e,
  ...change,
  by: change.by ?? null,
  eventId: `${e.alarmId}#${n}`,
  ts: e.ts + n,
});

/**
 * With RECORD_HISTORIES=<version> (v1, v2, ...) a test keeps its workflow's history in
 * workflows/histories/<version>-<name>.json for the replay test: recorded once per workflow
 * version, committed, and replayed by every later version.
 */
export async function keepHistory(name: string, handle: WorkflowHandle) {
  if (!process.env.RECORD_HISTORIES) return;
  const dir = join(import.meta.dirname, '..', 'histories');
  mkdirSync(dir, { recursive: true });
  const { History } = temporal.api.history.v1;
  const json = History.toObject(History.fromObject(await handle.fetchHistory()), {
    enums: String,
    longs: String,
    bytes: String,
  });
  writeFileSync(join(dir, `${process.env.RECORD_HISTORIES}-${name}.json`), `${JSON.stringify(json)}\n`);
}
