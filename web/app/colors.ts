/**
 * The page's colours for machine states, alarm rings and severities, in one place so the floor,
 * the badges and the state timeline agree (and a browser test can read a cell's colour back).
 */
import type { MachineSummary } from '../api/schemas.js';

export type MachineState = MachineSummary['state'];

export const STATE_COLORS: Record<MachineState, string> = {
  RUNNING: '#2e9d57',
  IDLE: '#9aa3ad',
  MAINTENANCE: '#3b7dd8',
  FAULT: '#d93025',
  UNKNOWN: '#e5e7eb',
};

/** The states in the order the top bar and legends list them. */
export const STATE_ORDER: readonly MachineState[] = ['RUNNING', 'IDLE', 'MAINTENANCE', 'FAULT', 'UNKNOWN'];

/** The colour of a state name from an untyped source (a series' state timeline). */
export function stateColor(state: string): string {
  return STATE_COLORS[state as MachineState] ?? STATE_COLORS.UNKNOWN;
}

/** Rings around a floor cell: an alarm nobody has acknowledged, or one that is acknowledged but active. */
export const RING_COLORS = { unacked: '#d93025', acked: '#e8a317' } as const;

export const SEVERITY_COLORS: Record<string, string> = {
  critical: '#d93025',
  high: '#e8590c',
  medium: '#e8a317',
  low: '#6b7280',
};

/** The floor canvas background, painted (not cleared) so every pixel read back is opaque. */
export const FLOOR_BACKGROUND = '#ffffff';
export const FLOOR_TEXT = '#1f2937';
