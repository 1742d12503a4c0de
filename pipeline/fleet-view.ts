/**
 * The bridge's view of the fleet registry: which line each machine belongs to. A line's
 * account may publish only its own machines: a reading or event for a machine of another line,
 * or for no registered machine, is refused (dead-lettered with the reason), whatever the topic.
 */
import type { RegisteredMachine } from '../actors/registry.js';
import type { FleetRegistry } from '../common/registry.js';

export type LineCheck = { ok: true } | { ok: false; reason: string };

export interface MachineLines {
  check(machineId: string, site: string, line: string): LineCheck | Promise<LineCheck>;
}

export class FleetView implements MachineLines {
  private readonly lines = new Map<string, string>();
  /** Ids found unregistered lately: a flood of forged ids costs one registry read each per 5 s. */
  private readonly unknown = new Map<string, number>();

  private constructor(private readonly registry: FleetRegistry) {}

  static async open(registry: FleetRegistry): Promise<FleetView> {
    const view = new FleetView(registry);
    const f = await registry.follow((m) => view.learn(m));
    await f.initialized;
    return view;
  }

  get size(): number {
    return this.lines.size;
  }

  private learn(m: RegisteredMachine) {
    // Retired machines stay known: their last readings may still be on the way.
    this.lines.set(m.machineId, `${m.site}/${m.line}`);
  }

  check(machineId: string, site: string, line: string): LineCheck | Promise<LineCheck> {
    const known = this.lines.get(machineId);
    if (known !== undefined) return verdict(machineId, known, `${site}/${line}`);
    const notRegistered: LineCheck = {
      ok: false,
      reason: `machine ${machineId} is not in the fleet registry`,
    };
    const seen = this.unknown.get(machineId);
    if (seen !== undefined && Date.now() - seen < 5_000) return notRegistered;
    // Just added: the registry's update may not have reached our watch yet. Ask once.
    return this.registry.machine(machineId).then((m) => {
      if (!m) {
        if (this.unknown.size > 10_000) this.unknown.clear();
        this.unknown.set(machineId, Date.now());
        return notRegistered;
      }
      this.learn(m);
      return verdict(machineId, `${m.site}/${m.line}`, `${site}/${line}`);
    });
  }
}

function verdict(machineId: string, registered: string, claimed: string): LineCheck {
  return registered === claimed
    ? { ok: true }
    : { ok: false, reason: `machine ${machineId} belongs to ${registered}, not ${claimed}` };
}
