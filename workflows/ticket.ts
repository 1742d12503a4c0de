/**
 * `maintenanceTicket` (id `ticket-{ticketId}`): a work order for one machine. It commands the
 * machine into MAINTENANCE through `machine-commands`, waits for the owning worker to report it
 * there, waits for the repair to be closed (`close` update: the machine is commanded back into
 * service) or for the machine to come back by another path, and records the measured times in
 * InfluxDB. A machine that does not answer, or a repair that takes too long, is escalated.
 *
 * The machine's owner is the authority on which ticket holds it: if another ticket already
 * does, this one joins that ticket instead of fighting it.
 */
import {
  allHandlersFinished,
  condition,
  getExternalWorkflowHandle,
  patched,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from './activities.js';
import {
  closeTicketUpdate,
  escalationId,
  linkAlarmSignal,
  machineReportSignal,
  PATCHES,
  resolveSignal,
  ticketOpenedSignal,
  ticketStatusQuery,
  ticketWorkflowId,
} from './definitions.js';
import { ACTIVITY_DEFAULTS, minutes, notifyAll, unreachable } from './steps.js';
import type { CloseRequest, CommandOutcome, MachineReport, TicketInput, TicketStatus } from './types.js';

const acts = proxyActivities<Activities>(ACTIVITY_DEFAULTS);

export async function maintenanceTicket(input: TicketInput): Promise<TicketStatus> {
  const { ticketId, machineId, policy, roles } = input;
  const s: TicketStatus = {
    ticketId,
    machineId,
    line: input.line,
    reason: input.reason,
    stage: 'OPENED',
    openedBy: input.openedBy,
    openedAt: Date.now(),
    inMaintenanceAt: null,
    backInServiceAt: null,
    closedBy: null,
    note: null,
    mergedInto: null,
    alarmIds: [...input.alarmIds],
    history: [],
  };
  const note = (what: string) => s.history.push({ at: Date.now(), what });
  note(`opened by ${input.openedBy} for ${machineId}: ${input.reason}`);

  /** The owner's latest word on the machine (state events and answers). */
  let report = null as MachineReport | null;
  const heard = (r: MachineReport) => {
    if (report === null || r.seq >= report.seq) report = r;
  };
  const heldByUs = () => report?.state === 'MAINTENANCE' && report.ticketId === ticketId;
  const backInService = () => s.stage !== 'OPENED' && report !== null && report.state !== 'MAINTENANCE';
  let closing = null as CloseRequest | null;
  let refusal = '';
  let step = 0;
  const command = (type: 'START_MAINTENANCE' | 'COMPLETE_MAINTENANCE'): Promise<CommandOutcome> =>
    acts
      .commandMachine(machineId, { type, ticketId }, `${workflowInfo().workflowId}.${++step}`)
      .catch(unreachable)
      .then((out) => {
        if (out.state && out.seq !== undefined)
          heard({ state: out.state, ticketId: out.ticketId ?? null, seq: out.seq, ts: Date.now() });
        return out;
      });
  const escalate = (step: string, subject: string, text: string) =>
    notifyAll({
      step,
      role: policy.escalateTo.role,
      title: roles[policy.escalateTo.role]?.title ?? policy.escalateTo.role,
      contacts: roles[policy.escalateTo.role]?.contacts ?? [],
      channels: policy.escalateTo.channels,
      subject,
      text,
      alarmId: s.alarmIds[0] ?? null,
      ticketId,
      machineId,
      line: input.line,
      severity: null,
      log: note,
    });

  setHandler(machineReportSignal, heard);
  setHandler(linkAlarmSignal, ({ alarmId }) => {
    if (s.alarmIds.includes(alarmId)) return;
    s.alarmIds.push(alarmId);
    note(`alarm ${alarmId} joined this ticket`);
  });
  setHandler(ticketStatusQuery, () => s);
  setHandler(
    closeTicketUpdate,
    async (req) => {
      if (s.stage === 'OPENED') {
        // Cancelled before the machine was taken; if the command lands meanwhile, it is returned.
        closing = req;
        await condition(() => s.stage === 'CLOSED' || closing !== req);
        return closing === req ? { ok: true, status: s } : { ok: false, reason: refusal };
      }
      // Back into service: the machine's owner decides (it refuses a machine still too hot).
      s.stage = 'RETURNING';
      const out = await command('COMPLETE_MAINTENANCE');
      if (out.ok || backInService()) {
        closing = req;
        note(`${req.by} closed the repair: ${req.note}`);
        await condition(() => s.stage === 'CLOSED');
        return { ok: true, status: s };
      }
      s.stage = 'IN_MAINTENANCE';
      note(`${req.by} asked to close, but ${machineId} did not return to service: ${out.reason}`);
      return { ok: false, reason: `${machineId} did not return to service: ${out.reason}` };
    },
    {
      validator: (req) => {
        if (closing !== null || s.stage === 'CLOSED' || s.stage === 'MERGED')
          throw new Error(`ticket ${ticketId} is already ${closing ? 'closing' : s.stage.toLowerCase()}`);
        if (s.stage === 'RETURNING')
          throw new Error(`ticket ${ticketId} is already returning ${machineId} to service`);
        if (!req.by || !req.note) throw new Error('closing a ticket needs who closes it and a note');
      },
    },
  );

  await acts.recordTicket({
    event: 'opened',
    ticketId,
    machineId,
    site: input.site,
    line: input.line,
    reason: input.reason,
    by: input.openedBy,
  });

  // 1. Into MAINTENANCE: command, and again every checkEveryS until the owner reports it.
  const respondBy = Date.now() + policy.respondWithinS * 1000;
  let lateTold = false;
  while (s.stage === 'OPENED' && closing === null) {
    const out = await command('START_MAINTENANCE');
    if (heldByUs()) {
      s.stage = 'IN_MAINTENANCE';
      s.inMaintenanceAt = Date.now();
      note(`${machineId} is in MAINTENANCE for this ticket`);
      break;
    }
    if (!out.ok && out.state === 'MAINTENANCE' && out.ticketId && out.ticketId !== ticketId) {
      await mergeInto(out.ticketId);
      return s;
    }
    if (!out.ok) note(`${machineId} did not enter MAINTENANCE: ${out.reason}`);
    if (!lateTold && Date.now() >= respondBy) {
      lateTold = true;
      await escalate(
        'late-response',
        `${machineId} has not entered MAINTENANCE for ticket ${ticketId}`,
        `No MAINTENANCE within ${minutes(policy.respondWithinS)} of the command${out.ok ? '' : `: ${out.reason}`}. Check the machine and its worker.`,
      );
    }
    await condition(
      () => heldByUs() || closing !== null,
      Math.min(policy.checkEveryS, policy.respondWithinS) * 1000,
      {
        summary: `wait for ${machineId} to report MAINTENANCE`,
      },
    );
    if (heldByUs()) {
      s.stage = 'IN_MAINTENANCE';
      s.inMaintenanceAt = Date.now();
      note(`${machineId} is in MAINTENANCE for this ticket`);
    }
  }

  // 2. The repair: until closed here or the machine is back by another path; overdue is escalated.
  const repairBy = Date.now() + policy.repairWithinS * 1000;
  let overdueTold = false;
  const closeOwnsReturn = patched(PATCHES.closeOwnsReturn);
  /** Back in service, and not by a close whose answer is still on its way. */
  const returned = () => backInService() && !(closeOwnsReturn && s.stage === 'RETURNING' && closing === null);
  while (s.stage === 'IN_MAINTENANCE' || s.stage === 'RETURNING') {
    if (returned()) break;
    if (closing !== null && s.stage === 'IN_MAINTENANCE') {
      // Closed while the machine was being taken: return it at once.
      s.stage = 'RETURNING';
      const out = await command('COMPLETE_MAINTENANCE');
      if (!out.ok && !backInService()) {
        refusal = `${machineId} did not return to service: ${out.reason}`;
        note(refusal);
        s.stage = 'IN_MAINTENANCE';
        closing = null;
      }
      continue;
    }
    const timeout = overdueTold
      ? policy.checkEveryS
      : Math.min(policy.checkEveryS, Math.max(1, (repairBy - Date.now()) / 1000));
    const woke = await condition(returned, timeout * 1000, {
      summary: `repair of ${machineId} under way`,
    });
    if (woke) break;
    if (!overdueTold && Date.now() >= repairBy) {
      overdueTold = true;
      await escalate(
        'overdue',
        `repair of ${machineId} is overdue (ticket ${ticketId})`,
        `Open for more than ${minutes(policy.repairWithinS)}: ${input.reason}`,
      );
    }
    // A missed state event: ask the owner directly.
    const r = await acts.machineStatus(machineId).catch(() => null);
    if (r) heard(r);
  }

  // 3. Closed: measured times to InfluxDB, the alarms told.
  const outcome = s.inMaintenanceAt === null ? 'cancelled' : 'repaired';
  if (outcome === 'repaired') s.backInServiceAt = report!.ts;
  s.stage = 'CLOSED';
  s.closedBy = closing?.by ?? `${machineId}'s owner`;
  s.note =
    closing?.note ?? `${machineId} returned to service (${report?.state ?? 'unknown'}) without a close`;
  await acts.recordRepair({
    ticketId,
    machineId,
    site: input.site,
    line: input.line,
    reason: input.reason,
    openedAt: s.openedAt,
    inMaintenanceAt: s.inMaintenanceAt,
    backInServiceAt: s.backInServiceAt,
    closedAt: Date.now(),
    closedBy: s.closedBy,
    outcome,
  });
  note(
    outcome === 'repaired'
      ? `closed by ${s.closedBy}: back in service after ${minutes(Math.round((s.backInServiceAt! - s.inMaintenanceAt!) / 1000))} of repair`
      : `cancelled by ${s.closedBy} before ${machineId} entered MAINTENANCE`,
  );
  await tellAlarms(`ticket ${ticketId} ${outcome} by ${s.closedBy}: ${s.note}`);
  await condition(allHandlersFinished);
  return s;

  async function mergeInto(other: string) {
    s.stage = 'MERGED';
    s.mergedInto = other;
    note(`${machineId} is already held by ticket ${other}: this ticket joins it`);
    for (const alarmId of s.alarmIds) {
      await quietly(getExternalWorkflowHandle(ticketWorkflowId(other)).signal(linkAlarmSignal, { alarmId }));
      await quietly(
        getExternalWorkflowHandle(escalationId(alarmId)).signal(ticketOpenedSignal, { ticketId: other }),
      );
    }
    await acts.recordRepair({
      ticketId,
      machineId,
      site: input.site,
      line: input.line,
      reason: input.reason,
      openedAt: s.openedAt,
      inMaintenanceAt: null,
      backInServiceAt: null,
      closedAt: Date.now(),
      closedBy: `ticket ${other}`,
      outcome: 'merged',
    });
    await condition(allHandlersFinished);
  }

  async function tellAlarms(text: string) {
    for (const alarmId of s.alarmIds)
      await quietly(
        getExternalWorkflowHandle(escalationId(alarmId)).signal(resolveSignal, {
          by: `ticket ${ticketId}`,
          note: text,
        }),
      );
  }
}

/** A workflow that already ended (or never ran) cannot be told; that is not this ticket's failure. */
const quietly = (p: Promise<void>) => p.catch(() => undefined);
