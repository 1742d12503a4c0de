/** A machine state as a coloured label, in the floor's colours. */
import { STATE_COLORS, STATE_ORDER, stateColor } from './colors.js';

export function StateBadge({ state }: { state: string }) {
  const color = stateColor(state);
  const dark = state === 'UNKNOWN' || state === 'IDLE';
  return (
    <span class="badge" style={{ background: color, color: dark ? '#111827' : '#ffffff' }}>
      {state}
    </span>
  );
}

/** One legend entry per state, with its colour (the floor's and the state timeline's legends). */
export function StateSwatches() {
  return (
    <>
      {STATE_ORDER.map((s) => (
        <li key={s}>
          <span class="swatch" style={{ background: STATE_COLORS[s] }} />
          {s}
        </li>
      ))}
    </>
  );
}
