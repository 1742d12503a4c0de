/**
 * The fleet as the web server pictures it: the registry's machines, each with the latest report
 * of its state from its owner (a state event, or the owner's last save read at start).
 *
 * Reports are ordered by the machine's `seq`, which only grows, across owners too (a new owner
 * continues above the old one's reservation): a late event from an owner that has just handed
 * the machine over, or a save older than an event already seen, changes nothing. A report for a
 * machine the registry has not yet delivered is kept until it does.
 */
import type { RegisteredMachine } from '../../actors/registry.js';
import { MACHINE_STATES, type MachineSummary } from '../api/schemas.js';

export interface StateReport {
  state: string;
  owner: string | null;
  shard: number | null;
  ticketId: string | null;
  /** When the state began (a state event), or null when only a save is known. */
  since: number | null;
  seq: number;
}

/** Reports kept for machines not (yet) in the registry, at most: junk on the subject is bounded. */
const MAX_UNREGISTERED = 100_000;

const asState = (s: string): MachineSummary['state'] =>
  (MACHINE_STATES as readonly string[]).includes(s) ? (s as MachineSummary['state']) : 'UNKNOWN';

export class FleetPicture {
  private readonly machines = new Map<string, MachineSummary>();
  private readonly reports = new Map<string, StateReport>();
  private readonly changed = new Set<string>();
  private readonly removed = new Set<string>();

  get size(): number {
    return this.machines.size;
  }

  get(machineId: string): MachineSummary | undefined {
    return this.machines.get(machineId);
  }

  list(): MachineSummary[] {
    return [...this.machines.values()];
  }

  register(m: RegisteredMachine): void {
    if (m.retiredAt !== null) {
      this.reports.delete(m.machineId);
      if (this.machines.delete(m.machineId)) {
        this.removed.add(m.machineId);
        this.changed.delete(m.machineId);
      }
      return;
    }
    this.machines.set(m.machineId, this.summary(m));
    this.removed.delete(m.machineId);
    this.changed.add(m.machineId);
  }

  /** Applies a report unless one with a higher seq was seen; true when it was applied. */
  report(machineId: string, r: StateReport): boolean {
    const known = this.reports.get(machineId);
    if (known && known.seq > r.seq) return false;
    if (!known && !this.machines.has(machineId) && this.reports.size >= MAX_UNREGISTERED) return false;
    // A save does not know when the state began; an earlier report of the same state may.
    this.reports.set(machineId, {
      ...r,
      since: r.since ?? (known && known.state === r.state ? known.since : null),
    });
    const m = this.machines.get(machineId);
    if (m) {
      this.machines.set(machineId, this.summary(m));
      this.changed.add(machineId);
    }
    return true;
  }

  /** What changed since the last call: the changed machines whole, and the ids removed. */
  takeChanges(): { machines: MachineSummary[]; removed: string[] } {
    const out = {
      machines: [...this.changed].flatMap((id) => this.machines.get(id) ?? []),
      removed: [...this.removed],
    };
    this.changed.clear();
    this.removed.clear();
    return out;
  }

  private summary(m: Pick<MachineSummary, 'machineId' | 'site' | 'line' | 'type'>): MachineSummary {
    const r = this.reports.get(m.machineId);
    return {
      machineId: m.machineId,
      site: m.site,
      line: m.line,
      type: m.type,
      state: r ? asState(r.state) : 'UNKNOWN',
      owner: r?.owner ?? null,
      shard: r?.shard ?? null,
      ticketId: r?.ticketId ?? null,
      since: r?.since ?? null,
    };
  }
}
