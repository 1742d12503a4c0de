/**
 * `alarmEscalation` (id `alarm-{alarmId}`): tells people about an alarm up a ladder by severity
 * until someone acknowledges it, opens a maintenance ticket for critical or repeating alarms, and
 * ends when the alarm is back to normal (cleared and acknowledged). The alarm's state has one
 * owner, the analytics processor: this workflow follows its transitions (forwarded by the
 * dispatcher as signals) and sends it an acknowledgement made here, never deciding it alone.
 *
 * Deterministic: every effect is an activity, time is the workflow's clock.
 */
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import {
  ApplicationFailure,
  allHandlersFinished,
  condition,
  ParentClosePolicy,
  patched,
  proxyActivities,
  setHandler,
  startChild,
} from '@temporalio/workflow';
import type { Activities } from './activities.js';
import {
  acknowledgeSignal,
  alarmUpdateSignal,
  clearSignal,
  escalationStatusQuery,
  PATCHES,
  resolveSignal,
  searchAttributes,
  ticketIdForAlarm,
  ticketOpenedSignal,
  ticketWorkflowId,
} from './definitions.js';
import { ACTIVITY_DEFAULTS, describeAlarm, minutes, notifyAll, unreachable } from './steps.js';
import { maintenanceTicket } from './ticket.js';
import type { AlarmUpdate, EscalationInput, EscalationStatus } from './types.js';

const acts = proxyActivities<Activities>(ACTIVITY_DEFAULTS);

export async function alarmEscalation(input: EscalationInput): Promise<EscalationStatus> {
  const { alarm, ladder, roles, tickets } = input;
  const what = describeAlarm(alarm);
  const s: EscalationStatus = {
    alarmId: alarm.alarmId,
    state: input.state,
    rung: -1,
    rungs: ladder.length,
    acknowledgedBy: null,
    resolvedBy: null,
    ticketId: null,
    reactivations: 0,
    history: [],
  };
  const note = (what: string) => s.history.push({ at: Date.now(), what });
  note(`${what} raised (${alarm.severity}): ${alarm.message}`);

  /** Transitions applied, by event id: a redelivered event changes nothing. */
  const seen = new Set<string>();
  /** An acknowledgement made here was accepted by the owner; its event is on its way. */
  let ackAccepted = false;
  const apply = (u: AlarmUpdate): boolean => {
    if (seen.has(u.eventId)) return false;
    seen.add(u.eventId);
    s.state = u.state;
    if (u.transition === 'REACTIVATED') {
      s.reactivations += 1;
      ackAccepted = false;
    }
    note(`${u.transition.toLowerCase()}${u.by ? ` by ${u.by}` : ''}: now ${u.state}`);
    return true;
  };

  const unacknowledged = () => s.state === 'ACTIVE_UNACK' || s.state === 'CLEARED_UNACK';
  /** Only an active alarm nobody has acknowledged climbs the ladder. */
  const escalating = () => s.state === 'ACTIVE_UNACK' && !ackAccepted;
  const finished = () => s.state === 'NORMAL';

  /** A person's acknowledgement goes to the alarm's owner; its answer is the truth. */
  const acknowledgeAs = async (by: string) => {
    if (!unacknowledged() || ackAccepted) {
      note(`${by} acknowledged; nothing to do, the alarm is ${s.state}`);
      return;
    }
    const out = await acts.acknowledgeAlarm(alarm.alarmId, by).catch(unreachable);
    if (out.ok) {
      ackAccepted = true;
      s.acknowledgedBy ??= by;
      note(`acknowledged by ${by}; the alarm's owner accepted it`);
    } else {
      note(`acknowledgement by ${by} refused by the alarm's owner: ${out.reason}`);
    }
  };

  setHandler(acknowledgeSignal, async (req) => {
    if (req.update) {
      if (apply(req.update)) s.acknowledgedBy ??= req.by;
      return;
    }
    await acknowledgeAs(req.by);
  });
  setHandler(clearSignal, (u) => void apply(u));
  setHandler(alarmUpdateSignal, (u) => void apply(u));
  setHandler(resolveSignal, async (req) => {
    if (s.resolvedBy !== null) return;
    s.resolvedBy = req.by;
    note(`resolved by ${req.by}: ${req.note}`);
    await acknowledgeAs(req.by);
  });
  setHandler(ticketOpenedSignal, ({ ticketId }) => {
    if (s.ticketId === ticketId) return;
    s.ticketId = ticketId;
    note(`repair joined ticket ${ticketId}`);
  });
  setHandler(escalationStatusQuery, () => s);

  // A ticket: at once for a critical alarm, or when the rule keeps coming back.
  let earlierRaises = 0;
  const ticketReason = (): string | null => {
    if (alarm.machineId === null || s.ticketId !== null || tickets.automatic === false) return null;
    if (tickets.severities.includes(alarm.severity)) return `${alarm.severity} alarm: ${alarm.message}`;
    const raises = earlierRaises + 1 + s.reactivations;
    if (raises >= tickets.repeats)
      return `${alarm.rule} came back ${raises} times within ${minutes(tickets.repeatWindowS)}: ${alarm.message}`;
    return null;
  };
  const ticketing = (async () => {
    const mayRepeat = tickets.automatic !== false && !tickets.severities.includes(alarm.severity);
    if (alarm.machineId !== null && mayRepeat) {
      earlierRaises = await acts.recentRaises(
        alarm.machineId,
        alarm.rule,
        alarm.alarmId,
        tickets.repeatWindowS,
      );
      if (earlierRaises > 0) note(`${alarm.rule} was raised ${earlierRaises} time(s) before in the window`);
    }
    await condition(() => ticketReason() !== null || finished());
    const reason = ticketReason();
    if (reason !== null) await openTicket(reason);
  })();

  async function openTicket(reason: string) {
    const machineId = alarm.machineId!;
    const ticketId = ticketIdForAlarm(alarm.alarmId);
    s.ticketId = ticketId;
    try {
      await startChild(maintenanceTicket, {
        workflowId: ticketWorkflowId(ticketId),
        args: [
          {
            ticketId,
            machineId,
            site: alarm.site,
            line: alarm.line,
            reason,
            openedBy: `alarm ${alarm.alarmId}`,
            alarmIds: [alarm.alarmId],
            policy: tickets,
            roles,
          },
        ],
        // The repair outlives the alarm: the alarm may clear long before the machine is back.
        parentClosePolicy: ParentClosePolicy.ABANDON,
        staticSummary: `repair ${machineId}: ${reason}`.slice(0, 200),
        typedSearchAttributes: [
          { key: searchAttributes.machine, value: machineId },
          { key: searchAttributes.line, value: alarm.line },
          { key: searchAttributes.severity, value: alarm.severity },
          { key: searchAttributes.rule, value: alarm.rule },
        ],
      });
      note(`opened maintenance ticket ${ticketId}: ${reason}`);
      // Added after the first release: escalations already running when a worker is upgraded
      // replay their history without this step (see the replay test and docs/workflows.md).
      if (patched(PATCHES.tellTicketOpened)) await tellTicket(ticketId, machineId, reason);
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      note(`maintenance ticket ${ticketId} was already open`);
    }
  }

  /** The first rung's people hear that maintenance has the machine (the operator on shift, usually). */
  async function tellTicket(ticketId: string, machineId: string, reason: string) {
    const first = ladder[0]!;
    const role = roles[first.role];
    if (!role) return;
    await notifyAll({
      step: 'ticket-opened',
      role: first.role,
      title: role.title,
      contacts: role.contacts,
      channels: first.channels,
      subject: `maintenance ticket ${ticketId} opened for ${machineId}`,
      text: `${reason}; the machine is commanded into MAINTENANCE.`,
      alarmId: alarm.alarmId,
      ticketId,
      machineId,
      line: alarm.line,
      severity: alarm.severity,
      log: note,
    });
  }

  // The ladder: each rung waits its delay of escalating time; a pause (acknowledged, shelved,
  // suppressed, cleared) restarts the rung's wait when the alarm is active and unacknowledged again.
  for (let i = 0; i < ladder.length && !finished(); i++) {
    const rung = ladder[i]!;
    const role = roles[rung.role];
    if (!role) throw ApplicationFailure.nonRetryable(`rung ${i} names unknown role ${rung.role}`);
    for (;;) {
      await condition(() => escalating() || finished());
      if (finished()) break;
      if (rung.afterS === 0) break;
      const paused = await condition(() => !escalating() || finished(), rung.afterS * 1000, {
        summary: `wait ${minutes(rung.afterS)} before telling the ${role.title}`,
      });
      if (!paused) break;
    }
    if (finished()) break;
    await notifyAll({
      step: `rung-${i}`,
      role: rung.role,
      title: role.title,
      contacts: role.contacts,
      channels: rung.channels,
      subject: `${alarm.severity} alarm ${what}`,
      text: `${alarm.message} (alarm ${alarm.alarmId}, rung ${i + 1} of ${ladder.length})`,
      alarmId: alarm.alarmId,
      ticketId: s.ticketId,
      machineId: alarm.machineId,
      line: alarm.line,
      severity: alarm.severity,
      log: note,
    });
    s.rung = i;
  }

  await condition(finished);
  await ticketing;
  await condition(allHandlersFinished);
  note('back to normal: escalation complete');
  return s;
}
