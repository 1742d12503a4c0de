/**
 * Tickets and escalations of a run, from Temporal (the one owner of both): `maintenanceTicket`
 * and `alarmEscalation` workflows started since the run began on the run's machines, found by
 * their `machine` search attribute.
 */
import type { Config } from '../common/config.js';
import { withTemporal } from '../infra/cli/ticket.js';
import type { RunFacts } from './judge.js';

/** More than any scenario opens: a visibility list is paged, and a stale stack may hold thousands. */
const MAX_LISTED = 5_000;

export async function countTickets(
  config: Config,
  since: number,
  machines: { machineId: string }[],
): Promise<NonNullable<RunFacts['tickets']>> {
  const ours = new Set(machines.map((m) => m.machineId));
  try {
    return await withTemporal(config, async (client) => {
      let opened = 0;
      let closed = 0;
      const on = new Set<string>();
      let listed = 0;
      for await (const w of client.workflow.list({ query: `WorkflowType = 'maintenanceTicket'` })) {
        if (++listed > MAX_LISTED) break;
        const machine = w.searchAttributes.machine;
        const id = Array.isArray(machine) ? String(machine[0]) : undefined;
        if (!id || !ours.has(id) || w.startTime.getTime() < since) continue;
        opened++;
        on.add(id);
        if (w.status.name === 'COMPLETED') closed++;
      }
      return { opened, closed, machines: [...on].sort() };
    });
  } catch (err) {
    return { opened: 0, closed: 0, machines: [], problem: (err as Error).message };
  }
}
