/**
 * What the workflows receive, keep and report: plain data, shared by the workflow code (which
 * must stay deterministic and import nothing with effects), the activities, the dispatcher and
 * the CLI. The validated form of the configuration parts lives in `config.ts`.
 */

export type Severity = 'low' | 'medium' | 'high' | 'critical';

/** Where a notification goes: a structured log line, an HTTP POST, a NATS subject. */
export type Channel =
  | { kind: 'log' }
  | { kind: 'webhook'; url: string; timeoutS: number }
  | { kind: 'nats'; subject: string };

export interface Role {
  title: string;
  contacts: string[];
}

/** One step of an escalation ladder: tell `role` on `channels`, `afterS` after the previous rung. */
export interface Rung {
  role: string;
  afterS: number;
  channels: string[];
}

export interface TicketPolicy {
  /** False when the machine is outside the policy's `machines`: tickets only by hand. Absent means true. */
  automatic?: boolean;
  severities: Severity[];
  repeats: number;
  repeatWindowS: number;
  respondWithinS: number;
  repairWithinS: number;
  checkEveryS: number;
  escalateTo: { role: string; channels: string[] };
}

/** The alarm as the analytics processor described it when it was raised. */
export interface AlarmFacts {
  alarmId: string;
  /** Null for a line's flood alarm. */
  machineId: string | null;
  site: string;
  line: string;
  machineType: string | null;
  rule: string;
  kind: string;
  severity: Severity;
  value: number | null;
  limit: number | null;
  raisedAt: number | null;
  message: string;
}

/** The analytics processor's lifecycle states (analytics/lifecycle.ts). */
export type AlarmState =
  | 'NORMAL'
  | 'ACTIVE_UNACK'
  | 'ACTIVE_ACKED'
  | 'CLEARED_UNACK'
  | 'SHELVED'
  | 'SUPPRESSED';

export interface EscalationInput {
  alarm: AlarmFacts;
  /** The state the alarm was in when its escalation began (ACTIVE_UNACK for a fresh raise). */
  state: AlarmState;
  ladder: Rung[];
  roles: Record<string, Role>;
  tickets: TicketPolicy;
}

/** A transition of the alarm, as the analytics processor announced it on `alarms`. */
export interface AlarmUpdate {
  eventId: string;
  transition: string;
  state: AlarmState;
  by: string | null;
  ts: number;
}

/** `acknowledge` from a person (the UI, the CLI) or forwarded from the analytics processor. */
export interface AcknowledgeRequest {
  by: string;
  /** Present when forwarded from `alarms`: the alarm's owner has already applied it. */
  update?: AlarmUpdate;
}

export interface ResolveRequest {
  by: string;
  note: string;
}

export interface LogEntry {
  at: number;
  what: string;
}

export interface EscalationStatus {
  alarmId: string;
  state: AlarmState;
  /** The highest rung told so far (0-based), -1 before the first. */
  rung: number;
  rungs: number;
  acknowledgedBy: string | null;
  resolvedBy: string | null;
  ticketId: string | null;
  reactivations: number;
  history: LogEntry[];
}

export interface Notification {
  /** Stable across retries: the workflow id and step, so a receiver can drop a repeat. */
  id: string;
  role: string;
  title: string;
  contacts: string[];
  subject: string;
  text: string;
  alarmId: string | null;
  ticketId: string | null;
  machineId: string | null;
  line: string;
  severity: Severity | null;
  at: number;
}

export interface TicketInput {
  ticketId: string;
  machineId: string;
  site: string;
  line: string;
  reason: string;
  openedBy: string;
  /** Alarms this ticket repairs: told when it closes. */
  alarmIds: string[];
  policy: TicketPolicy;
  roles: Record<string, Role>;
}

export type TicketStage =
  | 'OPENED'
  | 'IN_MAINTENANCE'
  | 'RETURNING'
  | 'CLOSED'
  /** The machine was already held by another ticket: this one joined it. */
  | 'MERGED';

export interface TicketStatus {
  ticketId: string;
  machineId: string;
  line: string;
  reason: string;
  stage: TicketStage;
  openedBy: string;
  openedAt: number;
  inMaintenanceAt: number | null;
  backInServiceAt: number | null;
  closedBy: string | null;
  note: string | null;
  mergedInto: string | null;
  alarmIds: string[];
  history: LogEntry[];
}

export interface CloseRequest {
  by: string;
  note: string;
}

export type CloseResult = { ok: true; status: TicketStatus } | { ok: false; reason: string };

/** What the owning worker reports about a machine (a state event or the answer to a query). */
export interface MachineReport {
  state: string;
  ticketId: string | null;
  /** The machine's seq when reported: orders reports from events, answers and queries. */
  seq: number;
  ts: number;
}

/** The answer to a command sent through `machine-commands` or `alarm-commands`. */
export type CommandOutcome =
  | { ok: true; state: string | null; ticketId: string | null; seq?: number }
  | {
      ok: false;
      reason: string;
      state?: string | null;
      ticketId?: string | null;
      seq?: number;
      noAnswer?: boolean;
    };

/** A ticket's closing, written to InfluxDB (`tickets`): the measured repair times. */
export interface RepairRecord {
  ticketId: string;
  machineId: string;
  site: string;
  line: string;
  reason: string;
  openedAt: number;
  inMaintenanceAt: number | null;
  backInServiceAt: number | null;
  closedAt: number;
  closedBy: string;
  outcome: 'repaired' | 'cancelled' | 'merged';
}
