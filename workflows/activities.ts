/**
 * Every effect the workflows have, built by a factory from the clients it needs (the samples'
 * `createActivities`), so a test hands in real local servers or fakes without patching modules.
 * Commands go through the same Kafka → owner → NATS answer path as the CLI's.
 */
import { Context } from '@temporalio/activity';
import type { InfluxDB } from 'influx';
import type { Producer } from 'kafkajs';
import type { NatsConnection } from 'nats';
import { type AlarmCommand, alarmAnswerSchema, alarmSubjects, subjectOf } from '../analytics/events.js';
import { MEASUREMENTS, RETENTION } from '../common/influx-schema.js';
import type { Logger } from '../common/log.js';
import { type CommandRecord, commandAnswerSchema, subjects } from '../common/machine-commands.js';
import { TOPICS } from '../common/topics.js';
import { requestOverKafka } from '../pipeline/request.js';
import type { Channel, CommandOutcome, MachineReport, Notification, RepairRecord } from './types.js';

export interface ActivityDeps {
  producer: Producer;
  nc: NatsConnection;
  influx: InfluxDB;
  channels: Record<string, Channel>;
  log: Logger;
  /** How long a command waits for its owner's answer. */
  answerTimeoutMs?: number;
}

export interface TicketEvent {
  event: 'opened';
  ticketId: string;
  machineId: string;
  site: string;
  line: string;
  reason: string;
  by: string;
}

/** Subjects the live view follows: notifications per role, ticket events. */
export const ticketSubject = (event: string) => `factory.tickets.${event}`;

const seconds = (from: number | null, to: number | null) =>
  from === null || to === null ? undefined : Math.max(0, (to - from) / 1000);

export function createActivities(deps: ActivityDeps) {
  const answerTimeoutMs = deps.answerTimeoutMs ?? 15_000;
  const by = () => {
    const info = Context.current().info;
    return `workflow ${info.workflowExecution?.workflowId ?? info.activityType}`;
  };

  return {
    /** One notification on one channel. A failure throws: Temporal retries it with backoff. */
    async notify(n: Notification, channelName: string): Promise<void> {
      const channel = deps.channels[channelName];
      if (!channel) throw new Error(`unknown channel "${channelName}"`);
      switch (channel.kind) {
        case 'log':
          deps.log.info('notification', { ...n });
          return;
        case 'nats':
          deps.nc.publish(`${channel.subject}.${n.role}`, JSON.stringify(n));
          await deps.nc.flush();
          return;
        case 'webhook': {
          const res = await fetch(channel.url, {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'idempotency-key': n.id },
            body: JSON.stringify(n),
            signal: AbortSignal.timeout(channel.timeoutS * 1000),
          });
          if (!res.ok) throw new Error(`webhook ${channel.url} answered HTTP ${res.status}`);
          return;
        }
      }
    },

    /** A command to a machine's owner, with its answer; no answer in time is an outcome, not an error. */
    async commandMachine(
      machineId: string,
      command: { type: string; ticketId?: string },
      commandId: string,
    ): Promise<CommandOutcome> {
      const record: CommandRecord = {
        v: 1,
        commandId: commandId.replace(/[^\w.-]/g, '_').slice(-100),
        machineId,
        command,
        replyTo: subjects.answer(`${commandId.replace(/[^\w-]/g, '_').slice(-60)}-${Date.now()}`),
        by: by(),
        ts: Date.now(),
      };
      const answer = await requestOverKafka(
        deps.nc,
        deps.producer,
        { topic: TOPICS.machineCommands, key: machineId, record, replyTo: record.replyTo! },
        (raw) => {
          const a = commandAnswerSchema.safeParse(raw);
          return a.success ? a.data : undefined;
        },
        answerTimeoutMs,
      );
      if (!answer)
        return {
          ok: false,
          noAnswer: true,
          reason: `no answer from ${machineId}'s owner within ${answerTimeoutMs / 1000} s (the command stays queued for it)`,
        };
      return answer.ok
        ? { ok: true, state: answer.state ?? null, ticketId: answer.ticketId ?? null }
        : {
            ok: false,
            reason: answer.reason ?? 'refused',
            state: answer.state ?? null,
            ticketId: answer.ticketId ?? null,
          };
    },

    /** An acknowledgement made in a workflow, sent to the alarm's one owner (analytics). */
    async acknowledgeAlarm(alarmId: string, person: string): Promise<CommandOutcome> {
      const info = Context.current().info;
      const commandId = `${info.workflowExecution?.runId ?? 'run'}-${info.activityId}`;
      const record: AlarmCommand = {
        v: 1,
        commandId,
        alarmId,
        action: 'acknowledge',
        by: person,
        replyTo: alarmSubjects.answer(commandId),
        ts: Date.now(),
      };
      const answer = await requestOverKafka(
        deps.nc,
        deps.producer,
        { topic: TOPICS.alarmCommands, key: subjectOf(alarmId)!, record, replyTo: record.replyTo! },
        (raw) => {
          const a = alarmAnswerSchema.safeParse(raw);
          return a.success ? a.data : undefined;
        },
        answerTimeoutMs,
      );
      // No answer: analytics is down or rebalancing. Retried by Temporal; the record stays queued.
      if (!answer)
        throw new Error(`no answer from the owner of alarm ${alarmId} within ${answerTimeoutMs / 1000} s`);
      return answer.ok
        ? { ok: true, state: answer.state ?? null, ticketId: null }
        : { ok: false, reason: answer.reason ?? 'refused' };
    },

    /** The owning worker's view of a machine (its state and the ticket holding it), or null. */
    async machineStatus(machineId: string): Promise<MachineReport | null> {
      try {
        const msg = await deps.nc.request(subjects.query(machineId), '', { timeout: 3_000 });
        const a = msg.json() as { state?: unknown; ticketId?: unknown; seq?: unknown; ts?: unknown };
        if (typeof a.state !== 'string' || typeof a.seq !== 'number') return null;
        return {
          state: a.state,
          ticketId: typeof a.ticketId === 'string' ? a.ticketId : null,
          seq: a.seq,
          ts: typeof a.ts === 'number' ? a.ts : Date.now(),
        };
      } catch {
        return null;
      }
    },

    /** How often this rule was raised on this machine in the window, not counting `alarmId` (from InfluxDB `alarms`). */
    async recentRaises(machineId: string, rule: string, alarmId: string, windowS: number): Promise<number> {
      const esc = (s: string) => s.replace(/\\/g, '\\\\').replace(/'/g, "\\'");
      const rows = await deps.influx.query<{ n: number }>(
        `SELECT count("alarm_id") AS n FROM "${RETENTION.raw.name}"."${MEASUREMENTS.alarms}" ` +
          `WHERE "machine" = '${esc(machineId)}' AND "rule" = '${esc(rule)}' AND "transition" = 'RAISED' ` +
          `AND "alarm_id" != '${esc(alarmId)}' AND time > now() - ${Math.round(windowS)}s`,
      );
      return rows[0]?.n ?? 0;
    },

    async recordTicket(e: TicketEvent): Promise<void> {
      await deps.influx.writePoints(
        [
          {
            measurement: MEASUREMENTS.tickets,
            tags: { site: e.site, line: e.line, machine: e.machineId, event: e.event },
            fields: { ticket_id: e.ticketId, reason: e.reason, by: e.by },
            timestamp: Date.now(),
          },
        ],
        { precision: 'ms', retentionPolicy: RETENTION.rollup.name },
      );
      deps.nc.publish(ticketSubject(e.event), JSON.stringify(e));
    },

    /** A ticket's end with its measured times: response (opened → MAINTENANCE), repair (MAINTENANCE → back), downtime. */
    async recordRepair(r: RepairRecord): Promise<void> {
      const fields = {
        ticket_id: r.ticketId,
        reason: r.reason,
        by: r.closedBy,
        response_s: seconds(r.openedAt, r.inMaintenanceAt),
        repair_s: seconds(r.inMaintenanceAt, r.backInServiceAt),
        open_s: seconds(r.openedAt, r.closedAt),
      };
      await deps.influx.writePoints(
        [
          {
            measurement: MEASUREMENTS.tickets,
            tags: { site: r.site, line: r.line, machine: r.machineId, event: r.outcome },
            fields: Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)),
            timestamp: r.closedAt,
          },
        ],
        { precision: 'ms', retentionPolicy: RETENTION.rollup.name },
      );
      deps.nc.publish(ticketSubject(r.outcome), JSON.stringify(r));
    },
  };
}

export type Activities = ReturnType<typeof createActivities>;
