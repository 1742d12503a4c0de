/**
 * Where the analytics processor keeps what must survive it (NATS KV):
 * - `analytics-state`, key = machineId: the machine's whole analytics state (alarms, rule
 *   states, baselines, KPI windows, held readings), written compare-and-set by revision, so an
 *   instance that lost the machine to another cannot overwrite the new owner's state;
 * - `alarms-open`, key = alarmId: the latest event of every alarm not back to normal, a view
 *   for `factory alarm list` and the web view (the processor alone writes it).
 */
import type { KV, NatsConnection } from 'nats';
import { bindBucket, followKv, type KvValue, readKv } from '../common/kv.js';
import { type AlarmEvent, alarmEventSchema } from './events.js';
import type { FloodState } from './flood.js';
import type { MachineState } from './machine.js';

export const STATE_BUCKET = 'analytics-state';
export const OPEN_ALARMS_BUCKET = 'alarms-open';

const floodKey = (site: string, line: string) => `_line.${site}.${line}`;

const parseOpen = (raw: unknown): AlarmEvent | undefined => {
  const r = alarmEventSchema.safeParse(raw);
  return r.success ? r.data : undefined;
};

export class AnalyticsStore {
  private constructor(
    private readonly state: KV,
    private readonly open_: KV,
  ) {}

  /** The buckets `factory up` provisioned (infra/servers/nats.ts). */
  static async open(nc: NatsConnection): Promise<AnalyticsStore> {
    return new AnalyticsStore(await bindBucket(nc, STATE_BUCKET), await bindBucket(nc, OPEN_ALARMS_BUCKET));
  }

  /** The saved state (its revision fences the next write), or undefined with revision 0. */
  load(machineId: string): Promise<{ state: MachineState | undefined; revision: number }> {
    return this.read<MachineState>(machineId);
  }

  /** A value we cannot read still has a revision: the next write must be fenced against it. */
  private async read<T extends { v: number }>(
    key: string,
  ): Promise<{ state: T | undefined; revision: number }> {
    const e = await this.state.get(key);
    if (e?.operation !== 'PUT') return { state: undefined, revision: e?.revision ?? 0 };
    try {
      const s = e.json<T>();
      return { state: s?.v === 1 ? s : undefined, revision: e.revision };
    } catch {
      return { state: undefined, revision: e.revision };
    }
  }

  /** Writes if nobody wrote since `revision` (0: must not exist); throws a revision conflict otherwise. */
  save(s: MachineState, revision: number): Promise<number> {
    return this.put(s.machine.machineId, s, revision);
  }

  /** A line's flood state (key `_line.<site>.<line>`), loaded and saved like a machine's. */
  loadFlood(site: string, line: string): Promise<{ state: FloodState | undefined; revision: number }> {
    return this.read<FloodState>(floodKey(site, line));
  }

  saveFlood(s: FloodState, revision: number): Promise<number> {
    return this.put(floodKey(s.site, s.line), s, revision);
  }

  private put(key: string, value: object, revision: number): Promise<number> {
    const data = JSON.stringify(value);
    return revision === 0 ? this.state.create(key, data) : this.state.update(key, data, revision);
  }

  /** Keeps the open-alarms view in step with an event: the latest event while open, gone once normal. */
  async project(e: AlarmEvent): Promise<void> {
    if (e.state === 'NORMAL') await this.open_.delete(e.alarmId);
    else await this.open_.put(e.alarmId, JSON.stringify(e));
  }

  /** Whether the alarm is still in the open view (not back to normal). */
  async isOpen(alarmId: string): Promise<boolean> {
    return (await this.open_.get(alarmId))?.operation === 'PUT';
  }

  openAlarms(): Promise<Map<string, KvValue<AlarmEvent>>> {
    return readKv(this.open_, '>', parseOpen);
  }

  /** Follows the open alarms: every one now, then each change (undefined: back to normal). */
  followOpenAlarms(onAlarm: (alarmId: string, e: AlarmEvent | undefined) => void) {
    return followKv(this.open_, '>', parseOpen, (k, e) => onAlarm(k, e?.value));
  }
}
