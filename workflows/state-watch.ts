/**
 * Machine reports to the tickets that wait on them: a worker's state event
 * (`factory.machine.{id}.state`) carries the ticket holding the machine; when the machine leaves
 * MAINTENANCE the event no longer names it, so the watch remembers which ticket held which
 * machine (and learns the open ones from Temporal at start). A report missed here (the watch was
 * down) is found by the ticket itself, which asks the owner every `checkEveryS`.
 */
import { type Client, WorkflowNotFoundError } from '@temporalio/client';
import type { NatsConnection, Subscription } from 'nats';
import type { Logger } from '../common/log.js';
import { subjects } from '../common/machine-commands.js';
import type { Metrics } from '../common/runtime.js';
import { machineReportSignal, ticketWorkflowId } from './definitions.js';

interface StateEvent {
  machineId: string;
  to: string;
  ticketId: string | null;
  seq: number;
  ts: number;
}

const isStateEvent = (v: unknown): v is StateEvent => {
  const e = v as Partial<StateEvent>;
  return (
    typeof e?.machineId === 'string' &&
    typeof e.to === 'string' &&
    typeof e.seq === 'number' &&
    typeof e.ts === 'number'
  );
};

export class StateWatch {
  /** machineId → the ticket holding it, as last reported. */
  private readonly held = new Map<string, string>();
  private sub: Subscription | undefined;

  constructor(private readonly opts: { nc: NatsConnection; client: Client; metrics: Metrics; log: Logger }) {}

  async start(): Promise<void> {
    this.sub = this.opts.nc.subscribe(subjects.state('*'));
    void this.loop(this.sub);
    for await (const w of this.opts.client.workflow.list({
      query: `WorkflowType = 'maintenanceTicket' AND ExecutionStatus = 'Running'`,
    })) {
      const machine = w.searchAttributes.machine;
      const machineId = Array.isArray(machine) ? machine[0] : undefined;
      if (typeof machineId === 'string' && !this.held.has(machineId))
        this.held.set(machineId, w.workflowId.replace(/^ticket-/, ''));
    }
  }

  stop(): void {
    this.sub?.unsubscribe();
  }

  private async loop(sub: Subscription) {
    for await (const msg of sub) {
      let e: unknown;
      try {
        e = msg.json();
      } catch {
        continue;
      }
      if (!isStateEvent(e)) continue;
      const ticketId = e.ticketId ?? this.held.get(e.machineId);
      if (!ticketId) continue;
      if (e.ticketId) this.held.set(e.machineId, e.ticketId);
      else this.held.delete(e.machineId);
      await this.tell(ticketId, e);
    }
  }

  private async tell(ticketId: string, e: StateEvent) {
    try {
      await this.opts.client.workflow
        .getHandle(ticketWorkflowId(ticketId))
        .signal(machineReportSignal, { state: e.to, ticketId: e.ticketId, seq: e.seq, ts: e.ts });
      this.opts.metrics.inc('reportsForwarded');
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return;
      // The ticket asks the owner itself before long: a lost report only delays it.
      this.opts.metrics.inc('reportsFailed');
      this.opts.log.warn('could not forward a machine report to its ticket', {
        machineId: e.machineId,
        ticketId,
        error: (err as Error).message,
      });
    }
  }
}
