/**
 * Everything the processor knows about one machine: its reorder buffer, rule states, alarms and
 * KPI windows, as one plain-JSON value (persisted in NATS KV `analytics-state`, key = machineId).
 * Pure apart from the times handed in: readings bring their own time, the processor's clock
 * drives silence, shelving expiry and given-up gaps.
 */
import type { TelemetryV1 } from '../common/telemetry.js';
import {
  type ConditionChange,
  debounce,
  evaluate,
  newRuleState,
  type RuleState,
  silent,
} from './detectors.js';
import type { AlarmEvent } from './events.js';
import { type KpiOptions, type KpiState, type KpiWindow, kpiAlarm, kpiReading, newKpiState } from './kpi.js';
import {
  type Alarm,
  acknowledge,
  type Change,
  type CommandOutcome,
  expireShelving,
  newAlarm,
  onCondition,
  setSuppressed,
  shelve,
  unshelve,
} from './lifecycle.js';
import {
  announceSkip,
  expire,
  newReorder,
  newStats,
  offer,
  type ReorderState,
  type ReorderStats,
} from './reorder.js';
import type { Rule } from './rules.js';

export interface MachineInfo {
  machineId: string;
  site: string;
  line: string;
  type: string;
}

export interface MachineState {
  v: 1;
  machine: MachineInfo;
  reorder: ReorderState<TelemetryV1>;
  rules: Record<string, RuleState>;
  alarms: Record<string, Alarm>;
  kpi: KpiState;
  /** The last reading applied (in seq order). */
  lastSeq: number;
  lastTs: number;
  lastState: string | null;
  /**
   * The maintenance ticket holding the machine, from its owner's state events, and the last
   * seq emitted before it took hold. Only maintenance on a ticket suppresses alarms: the
   * machine's own planned stops (the chain's MAINTENANCE) come and go every few minutes.
   */
  ticket?: { id: string; afterSeq: number } | null;
  /** Events saved with this state and not yet known to be sent (the processor's outbox). */
  outbox?: AlarmEvent[];
}

export const newMachineState = (machine: MachineInfo): MachineState => ({
  v: 1,
  machine,
  reorder: newReorder(),
  rules: {},
  alarms: {},
  kpi: newKpiState(),
  lastSeq: 0,
  lastTs: 0,
  lastState: null,
  ticket: null,
});

export interface Output {
  events: AlarmEvent[];
  closed: KpiWindow[];
}

export interface MachineOptions {
  kpi: KpiOptions;
  /** How long a gap in seq may hold later readings back. */
  maxHoldMs: number;
  /** The line's current flood alarm, if it is flooding (raised alarms name it). */
  floodOf: (site: string, line: string) => string | null;
}

const empty = (): Output => ({ events: [], closed: [] });

export class MachineAnalytics {
  /** Wall-clock time of the last reading received (not persisted: a restart starts the count anew). */
  lastHeardAt: number;
  /** Changed since it was last saved. */
  dirty = false;
  readonly stats: ReorderStats = newStats();
  private readonly byId: Map<string, Rule>;

  constructor(
    readonly state: MachineState,
    private readonly rules: Rule[],
    private readonly opts: MachineOptions,
    now: number,
  ) {
    this.lastHeardAt = now;
    this.byId = new Map(rules.map((r) => [r.id, r]));
    for (const r of rules) {
      state.rules[r.id] ??= newRuleState();
      state.alarms[r.id] ??= newAlarm(r.id);
    }
  }

  get id() {
    return this.state.machine.machineId;
  }

  /** A reading from Kafka, in whatever order it came. */
  receive(t: TelemetryV1, now: number): Output {
    // A duplicate (a replay, a redelivery) says nothing about the machine being heard now.
    const next = this.state.reorder.next;
    if (next === null || t.seq >= next) this.lastHeardAt = now;
    this.dirty = true;
    const out = empty();
    for (const r of offer(this.state.reorder, t, now, this.stats)) this.apply(r, out);
    return out;
  }

  /** Its owner announced [from, to] as skipped (a failover): nothing is waited for there. */
  skip(from: number, to: number): Output {
    const out = empty();
    const ready = announceSkip(this.state.reorder, from, to, this.stats);
    if (ready.length) this.dirty = true;
    for (const r of ready) this.apply(r, out);
    return out;
  }

  /**
   * On the processor's clock: given-up gaps, silence, shelving that ran out. `flowingSince`: when
   * readings began to reach the processor again after it received none at all (a broker or
   * Kafka outage): every machine gets the silence delay from then to be heard again.
   */
  tick(now: number, flowing: boolean, flowingSince = 0): Output {
    const out = empty();
    for (const r of expire(this.state.reorder, now, this.opts.maxHoldMs, this.stats)) this.apply(r, out);
    for (const rule of this.rules) {
      const a = this.state.alarms[rule.id]!;
      const expired = expireShelving(a, now);
      if (expired) this.emit(rule, expired, out);
      if (rule.kind !== 'silence' || !flowing) continue;
      // Named by the time it began: two silences can fall between the same two readings.
      const ch = silent(rule, this.state.rules[rule.id]!, this.lastHeardAt, now, now, flowingSince);
      if (ch) this.condition(rule, ch, out);
    }
    if (out.events.length || out.closed.length) this.dirty = true;
    return out;
  }

  /** An acknowledge, shelve or unshelve for one of this machine's alarms. */
  command(
    alarmId: string,
    action: 'acknowledge' | 'shelve' | 'unshelve',
    by: string,
    now: number,
    forMs = 0,
  ): { outcome: CommandOutcome; out: Output } {
    const out = empty();
    const ruleId = alarmId.split('.').at(-2) ?? '';
    const rule = this.byId.get(ruleId);
    const a = this.state.alarms[ruleId];
    if (!rule || !a) return { outcome: { ok: false, reason: `no rule "${ruleId}" for ${this.id}` }, out };
    const outcome =
      action === 'acknowledge'
        ? acknowledge(a, alarmId, by, now)
        : action === 'shelve'
          ? shelve(a, alarmId, by, now + forMs, now)
          : unshelve(a, alarmId, by, now);
    if (outcome.ok) {
      this.dirty = true;
      this.emit(rule, outcome.change, out);
    }
    return { outcome, out };
  }

  /** The owner reported the machine's ticket (null: none holds it any more). */
  setTicket(ticketId: string | null, seq: number): void {
    const current = this.state.ticket ?? null;
    if (ticketId === (current?.id ?? null)) return;
    this.state.ticket = ticketId === null ? null : { id: ticketId, afterSeq: seq };
    this.dirty = true;
  }

  /** Open alarms (not NORMAL), for the list and the view. */
  openAlarms(): Alarm[] {
    return Object.values(this.state.alarms).filter((a) => a.state !== 'NORMAL');
  }

  private apply(t: TelemetryV1, out: Output) {
    const s = this.state;
    const ticket = s.ticket ?? null;
    const suppressed = t.state === 'MAINTENANCE' && ticket !== null && t.seq > ticket.afterSeq;
    // Across a seq jump (a failover gap: a new owner restored the machine from its last save) a
    // counter may go on from below the last reading seen. That is the restore, not the machine's
    // counter being reset: counters are not compared across it.
    const jumped = t.seq > s.lastSeq + 1;
    for (const rule of this.rules) {
      const rs = s.rules[rule.id]!;
      if (jumped && rule.kind === 'counter') rs.prevValue = null;
      const ch =
        rule.kind === 'silence'
          ? debounce(rule, rs, false, t, { raw: false, value: null, limit: rule.afterS })
          : evaluate(rule, rs, t);
      const a = s.alarms[rule.id]!;
      if (a.suppressed !== suppressed) {
        const detail = { seq: t.seq, value: null, limit: null, since: a.conditionSince ?? t.ts };
        const c = setSuppressed(a, suppressed, t.ts, detail, s.machine.machineId);
        if (c) this.emit(rule, c, out);
      }
      if (ch) this.condition(rule, ch, out);
    }
    s.lastSeq = t.seq;
    s.lastTs = t.ts;
    s.lastState = t.state;
    out.closed.push(...kpiReading(s.kpi, t, this.opts.kpi));
  }

  private condition(rule: Rule, ch: ConditionChange, out: Output) {
    const a = this.state.alarms[rule.id]!;
    const c = onCondition(a, ch.active, ch.ts, ch, this.state.machine.machineId);
    if (c) this.emit(rule, c, out);
  }

  private emit(rule: Rule, c: Change, out: Output) {
    const m = this.state.machine;
    if (c.transition === 'RAISED') out.closed.push(...kpiAlarm(this.state.kpi, c.ts, this.opts.kpi));
    out.events.push(
      alarmEvent(c, factsOf(rule, c.alarm.value, c.alarm.limit), {
        machineId: m.machineId,
        site: m.site,
        line: m.line,
        machineType: m.type,
        flood: c.transition === 'RAISED' ? this.opts.floodOf(m.site, m.line) : null,
      }),
    );
  }
}

const FIELD_UNITS: Record<string, string> = {
  temperatureC: '°C',
  speedRpm: 'rpm',
  vibrationMmS: 'mm/s',
  powerKw: 'kW',
};

/** One sentence a person reads in a list or a notification. */
export function describeAlarm(rule: Rule, value: number | null, limit: number | null): string {
  const unit = 'field' in rule ? (FIELD_UNITS[rule.field] ?? '') : '';
  switch (rule.kind) {
    case 'limit':
      return `${rule.field} ${value} ${unit} ${rule.high !== undefined ? 'above high' : 'below low'} limit ${limit} ${unit}`;
    case 'rate':
      return `${rule.field} changing ${value} ${unit}/s, more than ${limit} ${unit}/s`;
    case 'baseline':
      return `${rule.field} ${value} ${unit} above its learned baseline (limit ${limit} ${unit})`;
    case 'flatline':
      return `${rule.field} stuck at ${value} ${unit} for ${limit} s or more (sensor?)`;
    case 'silence':
      return `no telemetry for ${value ?? limit} s (communication loss)`;
    case 'state':
      return `machine in ${rule.state}`;
    case 'counter':
      return `${rule.field} went backwards (to ${value})`;
  }
}

/** What an alarm event says about the rule behind it. */
export interface RuleFacts {
  id: string;
  kind: string;
  severity: Rule['severity'];
  field: string | null;
  message: string;
}

export const factsOf = (rule: Rule, value: number | null, limit: number | null): RuleFacts => ({
  id: rule.id,
  kind: rule.kind,
  severity: rule.severity,
  field: 'field' in rule ? rule.field : null,
  message: describeAlarm(rule, value, limit),
});

export function alarmEvent(
  c: Change,
  rule: RuleFacts,
  where: {
    machineId: string | null;
    site: string;
    line: string;
    machineType: string | null;
    flood: string | null;
  },
): AlarmEvent {
  const a = c.alarm;
  return {
    v: 1,
    eventId: `${c.alarmId}#${a.transitions}`,
    alarmId: c.alarmId,
    transition: c.transition,
    state: a.state,
    ...where,
    rule: rule.id,
    kind: rule.kind,
    severity: rule.severity,
    field: rule.field,
    value: a.value,
    limit: a.limit,
    ts: c.ts,
    raisedAt: a.raisedAt,
    conditionSince: a.conditionSince,
    by: c.by,
    shelvedUntil: a.shelvedUntil,
    message: rule.message,
  };
}
