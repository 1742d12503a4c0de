/**
 * `factory ticket open|list|close`: maintenance tickets are `maintenanceTicket` workflows
 * (id `ticket-{ticketId}`); this talks to them through Temporal, the one owner of tickets.
 */
import {
  Client,
  Connection,
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
} from '@temporalio/client';
import { type Config, formatAddress } from '../../common/config.js';
import { startTicket } from '../../workflows/client.js';
import { loadEscalationConfig, ticketPolicy } from '../../workflows/config.js';
import { closeTicketUpdate, ticketStatusQuery, ticketWorkflowId } from '../../workflows/definitions.js';
import { minutes } from '../../workflows/steps.js';
import type { TicketStatus } from '../../workflows/types.js';
import { table } from '../supervisor/output.js';
import { StackError } from '../supervisor/stack.js';
import { cliNats, registeredMachine } from './command.js';

export async function withTemporal<T>(config: Config, work: (client: Client) => Promise<T>): Promise<T> {
  const connection = await Connection.connect({
    address: formatAddress(config.temporal),
    connectTimeout: 3_000,
  }).catch(() => {
    throw new StackError(
      `Cannot reach Temporal at ${formatAddress(config.temporal)}: is the stack running ("factory status")?`,
    );
  });
  try {
    return await work(new Client({ connection, namespace: config.temporalNamespace }));
  } finally {
    await connection.close();
  }
}

/** The Temporal UI page of one workflow. */
export const workflowLink = (config: Config, workflowId: string) =>
  `http://${formatAddress(config.temporalUi)}/namespaces/${encodeURIComponent(config.temporalNamespace)}/workflows/${encodeURIComponent(workflowId)}`;

/** `T-M-0003-20261124T121530Z`: the machine and the minute it was opened, readable in a logbook. */
export const manualTicketId = (machineId: string, now = new Date()) =>
  `T-${machineId}-${now.toISOString().replace(/[-:]/g, '').replace(/\.\d+/, '')}`;

export async function openTicket(
  config: Config,
  machineId: string,
  opts: { reason: string; by: string; waitMs: number },
): Promise<{ ticketId: string; status: TicketStatus | null }> {
  const nc = await cliNats(config);
  const machine = await registeredMachine(nc, machineId).finally(() => nc.close());
  const escalation = loadEscalationConfig(config.escalationFile);
  const ticketId = manualTicketId(machineId);
  return withTemporal(config, async (client) => {
    try {
      await startTicket(client, {
        ticketId,
        machineId,
        site: machine.site,
        line: machine.line,
        reason: opts.reason,
        openedBy: opts.by,
        alarmIds: [],
        policy: ticketPolicy(escalation),
        roles: escalation.roles,
      });
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError)
        throw new StackError(`Ticket ${ticketId} already exists; open another in a second.`);
      throw err;
    }
    // Wait (a little) for the machine to be taken, so the operator sees where it stands.
    const handle = client.workflow.getHandle(ticketWorkflowId(ticketId));
    const deadline = Date.now() + opts.waitMs;
    let status: TicketStatus | null = null;
    while (Date.now() < deadline) {
      status = await handle.query(ticketStatusQuery).catch(() => null);
      if (status && status.stage !== 'OPENED') break;
      await new Promise((r) => setTimeout(r, 250));
    }
    return { ticketId, status };
  });
}

export interface TicketRow {
  ticketId: string;
  machineId: string;
  running: boolean;
  status: TicketStatus | null;
  startTime: Date;
  closeTime: Date | null;
}

export async function listTickets(config: Config, opts: { all: boolean }): Promise<TicketRow[]> {
  return withTemporal(config, async (client) => {
    const query = `WorkflowType = 'maintenanceTicket'${opts.all ? '' : ` AND ExecutionStatus = 'Running'`}`;
    const rows: TicketRow[] = [];
    for await (const w of client.workflow.list({ query })) {
      const running = w.status.name === 'RUNNING';
      const status = running
        ? await client.workflow
            .getHandle(w.workflowId)
            .query(ticketStatusQuery)
            .catch(() => null)
        : await client.workflow
            .getHandle(w.workflowId)
            .result()
            .then((r) => r as TicketStatus)
            .catch(() => null);
      const machine = w.searchAttributes.machine;
      rows.push({
        ticketId: w.workflowId.replace(/^ticket-/, ''),
        machineId: status?.machineId ?? (Array.isArray(machine) ? String(machine[0]) : '?'),
        running,
        status,
        startTime: w.startTime,
        closeTime: w.closeTime ?? null,
      });
      if (rows.length >= 200) break;
    }
    return rows;
  });
}

const age = (ms: number) => minutes(Math.max(0, Math.round(ms / 1000)));

export function renderTickets(rows: TicketRow[], now = Date.now()): string {
  if (rows.length === 0) return 'No tickets.';
  return table([
    ['TICKET', 'MACHINE', 'STAGE', 'OPENED', 'REPAIR', 'REASON'],
    ...rows.map((r) => {
      const s = r.status;
      const repair =
        s?.inMaintenanceAt == null
          ? '-'
          : s.backInServiceAt != null
            ? age(s.backInServiceAt - s.inMaintenanceAt)
            : `${age(now - s.inMaintenanceAt)} so far`;
      return [
        r.ticketId,
        r.machineId,
        s?.stage ?? (r.running ? 'running' : 'ended'),
        `${age(now - r.startTime.getTime())} ago`,
        repair,
        (s?.reason ?? '').slice(0, 60),
      ];
    }),
  ]);
}

export async function closeTicket(
  config: Config,
  ticketId: string,
  opts: { by: string; note: string },
): Promise<{ ok: true; status: TicketStatus } | { ok: false; reason: string }> {
  return withTemporal(config, async (client) => {
    const handle = client.workflow.getHandle(ticketWorkflowId(ticketId));
    try {
      return await handle.executeUpdate(closeTicketUpdate, { args: [opts] });
    } catch (err) {
      if (err instanceof WorkflowNotFoundError)
        throw new StackError(`No ticket ${ticketId} (see "factory ticket list --all").`);
      // A validator's refusal (already closed, ...) or an ended workflow: one sentence.
      const e = err as Error & { cause?: Error };
      return { ok: false, reason: (e.cause?.message ?? e.message).replace(/\.$/, '') };
    }
  });
}
