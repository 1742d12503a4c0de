/**
 * The live picture the server streams, as the page holds it: machines in the Fleet's plain Map
 * (the floor wants changed ids, not re-renders), everything small (alarms, workers, pipeline,
 * counts) in signals so only the text that depends on it updates.
 */
import { signal } from '@preact/signals';
import type { Alarm, PipelineResponse, WorkersResponse } from '../api/schemas.js';
import { emptyCounts, Fleet, type StateCounts } from './fleet.js';

export type ConnectionState = 'connecting' | 'live' | 'reconnecting';

export const fleet = new Fleet();
export const stateCounts = signal<StateCounts>(emptyCounts());
export const alarms = signal<Alarm[]>([]);
export const workers = signal<WorkersResponse | null>(null);
export const pipeline = signal<PipelineResponse | null>(null);
export const connection = signal<ConnectionState>('connecting');
/** Whether the first snapshot arrived: before it, empty lists mean "not known yet". */
export const hasSnapshot = signal(false);

fleet.subscribe(() => {
  const next = fleet.stateCounts();
  const before = stateCounts.peek();
  if (Object.keys(next).some((s) => next[s as keyof StateCounts] !== before[s as keyof StateCounts])) {
    stateCounts.value = next;
  }
});
