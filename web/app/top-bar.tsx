/** The slim bar on every page: where you are, how the fleet is, and whether the view is live. */
import { useComputed } from '@preact/signals';
import { isUnacked } from './alarms.js';
import { STATE_COLORS, STATE_ORDER } from './colors.js';
import { routeHash } from './route.js';
import { route } from './router.js';
import { alarms, connection, stateCounts } from './store.js';

const LINKS = [
  { page: 'floor', label: 'Floor' },
  { page: 'alarms', label: 'Alarms' },
  { page: 'shards', label: 'Shards' },
  { page: 'pipeline', label: 'Pipeline' },
] as const;

const CONNECTION_TEXT = { connecting: 'connecting…', live: 'live', reconnecting: 'reconnecting…' } as const;

export function TopBar() {
  const unacked = useComputed(() => alarms.value.filter(isUnacked).length);
  const current = route.value.page;
  const counts = stateCounts.value;
  return (
    <header class="top-bar">
      <a class="product" href="#/">
        Factory floor
      </a>
      <nav>
        {LINKS.map((l) => (
          <a
            key={l.page}
            href={routeHash({ page: l.page })}
            aria-current={current === l.page ? 'page' : undefined}
          >
            {l.label}
          </a>
        ))}
      </nav>
      <ul class="counts" aria-label="Machines by state">
        {STATE_ORDER.filter((s) => s !== 'UNKNOWN' || counts[s] > 0).map((s) => (
          <li key={s} title={s}>
            <span class="swatch" style={{ background: STATE_COLORS[s] }} />
            <span class="count-label">{s.toLowerCase()}</span> {counts[s].toLocaleString('en-US')}
          </li>
        ))}
      </ul>
      <a class={unacked.value > 0 ? 'alarm-count alert' : 'alarm-count'} href="#/alarms">
        {unacked.value} unacked alarm{unacked.value === 1 ? '' : 's'}
      </a>
      <span class={`connection ${connection.value}`} role="status">
        <span class="dot" />
        {CONNECTION_TEXT[connection.value]}
      </span>
    </header>
  );
}
