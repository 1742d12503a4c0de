/**
 * The machines the page knows, kept in one plain Map rather than a signal per machine: at
 * 10,000 machines and hundreds of changes a second, the floor wants the ids that changed, not a
 * re-render. Listeners get each batch's changed ids and whether the set of machines (or a
 * machine's line) changed, which is what forces the floor to lay itself out again.
 */
import type { MachineSummary, MachinesDelta } from '../api/schemas.js';
import { type MachineState, STATE_ORDER } from './colors.js';

export interface FleetChange {
  /** Machines whose summary changed (ids of removed machines included). */
  changed: string[];
  /** True when machines were added or removed, or one moved to another line. */
  structural: boolean;
}

export type StateCounts = Record<MachineState, number>;
export type FleetListener = (change: FleetChange) => void;

export function emptyCounts(): StateCounts {
  return Object.fromEntries(STATE_ORDER.map((s) => [s, 0])) as StateCounts;
}

export class Fleet {
  readonly machines = new Map<string, MachineSummary>();
  private readonly counts = emptyCounts();
  private readonly listeners = new Set<FleetListener>();
  /** Whether a snapshot has arrived: until then an empty floor means "not known yet", not "no machines". */
  hasSnapshot = false;

  /** Replaces everything with a snapshot (the first one, or the one after a reconnect). */
  applySnapshot(machines: readonly MachineSummary[]): FleetChange {
    const next = new Map(machines.map((m) => [m.machineId, m]));
    let structural = !this.hasSnapshot || next.size !== this.machines.size;
    const changed: string[] = [];
    for (const [id, before] of this.machines) {
      const after = next.get(id);
      if (after === undefined || movedLine(before, after)) structural = true;
      if (after === undefined || after !== before) changed.push(id);
    }
    for (const id of next.keys()) if (!this.machines.has(id)) changed.push(id);
    this.machines.clear();
    for (const [id, m] of next) this.machines.set(id, m);
    this.recount();
    this.hasSnapshot = true;
    return this.emit({ changed, structural });
  }

  applyDelta(delta: MachinesDelta): FleetChange {
    let structural = false;
    const changed: string[] = [];
    for (const m of delta.machines) {
      const before = this.machines.get(m.machineId);
      if (before === undefined || movedLine(before, m)) structural = true;
      if (before !== undefined) this.counts[before.state] -= 1;
      this.counts[m.state] += 1;
      this.machines.set(m.machineId, m);
      changed.push(m.machineId);
    }
    for (const id of delta.removed) {
      const before = this.machines.get(id);
      if (before === undefined) continue;
      this.counts[before.state] -= 1;
      this.machines.delete(id);
      structural = true;
      changed.push(id);
    }
    return this.emit({ changed, structural });
  }

  /** Machines per state (a copy: callers may keep it). */
  stateCounts(): StateCounts {
    return { ...this.counts };
  }

  subscribe(listener: FleetListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private recount(): void {
    for (const s of STATE_ORDER) this.counts[s] = 0;
    for (const m of this.machines.values()) this.counts[m.state] += 1;
  }

  private emit(change: FleetChange): FleetChange {
    if (change.changed.length > 0 || change.structural) for (const l of this.listeners) l(change);
    return change;
  }
}

function movedLine(a: MachineSummary, b: MachineSummary): boolean {
  return a.site !== b.site || a.line !== b.line;
}
