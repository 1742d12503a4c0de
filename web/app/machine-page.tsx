/**
 * `#/machine/<id>`: one machine's facts, KPIs, open alarms, its last hour of signals and the
 * actions on it. Detail and series are fetched every 10 s while the page is open; the state
 * badge and the alarms follow the live events in between.
 */
import { useComputed, useSignal } from '@preact/signals';
import { useMemo } from 'preact/hooks';
import type { MachineDetail, MachineSummary, SeriesResponse } from '../api/schemas.js';
import { sortAlarms } from './alarms.js';
import { AlarmTable } from './alarms-page.js';
import { apiPath, getJson } from './api.js';
import { duration, localTime, NONE, percent } from './format.js';
import { useLiveMachine, usePoll } from './hooks.js';
import { MachineActions } from './machine-actions.js';
import { CHARTS, limitsBySeries, stateSegments } from './series.js';
import { SeriesChart } from './series-chart.js';
import { StateBadge } from './state-badge.js';
import { StateTimeline } from './state-timeline.js';
import { alarms, hasSnapshot } from './store.js';
import { TokenHint } from './token-hint.js';

const REFRESH_MS = 10_000;
const MINUTES = 60;
const NO_LIMITS: MachineDetail['limits'] = [];

interface Loaded {
  series: SeriesResponse;
  /** Epoch ms the hour shown ends at (when it was fetched). */
  to: number;
}

export function MachinePage({ machineId }: { machineId: string }) {
  const detail = useSignal<MachineDetail | null>(null);
  const detailError = useSignal<string | null>(null);
  const loaded = useSignal<Loaded | null>(null);
  const seriesError = useSignal<string | null>(null);
  const live = useLiveMachine(machineId);

  usePoll(machineId, REFRESH_MS, async (signal) => {
    const [d, s] = await Promise.all([
      getJson<MachineDetail>(apiPath('machines', machineId), signal),
      getJson<SeriesResponse>(`${apiPath('machines', machineId, 'series')}?minutes=${MINUTES}`, signal),
    ]);
    if (signal.aborted) return;
    if (d.ok) detail.value = d.value;
    detailError.value = d.ok ? null : d.error;
    if (s.ok) loaded.value = { series: s.value, to: Date.now() };
    seriesError.value = s.ok ? null : s.error;
  });

  // The live alarm list is newer than the detail's once the live events are flowing.
  const machineAlarms = useComputed(() =>
    sortAlarms(
      hasSnapshot.value
        ? alarms.value.filter((a) => a.machineId === machineId)
        : (detail.value?.alarms ?? []),
    ),
  );

  const summary: MachineSummary | undefined = live ?? detail.value?.machine;
  const d = detail.value;
  return (
    <main class="page">
      <p>
        <a href="#/">← Floor</a>
      </p>
      <h1>
        {machineId} {summary && <StateBadge state={summary.state} />}
      </h1>
      {detailError.value && <p class="error">{detailError.value}</p>}
      {summary && <Facts machine={summary} ticketUrl={d?.ticketUrl ?? null} />}
      {d && <Kpis detail={d} />}

      <h2>
        Open alarms <span class="count">{machineAlarms.value.length}</span>
      </h2>
      <TokenHint />
      {machineAlarms.value.length === 0 ? (
        <p class="muted">No open alarms.</p>
      ) : (
        <AlarmTable alarms={machineAlarms.value} showMachine={false} />
      )}

      <h2>Last hour</h2>
      {seriesError.value && seriesError.value !== detailError.value && (
        <p class="error">{seriesError.value}</p>
      )}
      <Charts loaded={loaded.value} limits={d?.limits ?? NO_LIMITS} />

      <h2>Actions</h2>
      <MachineActions machineId={machineId} />
    </main>
  );
}

function Facts({ machine: m, ticketUrl }: { machine: MachineSummary; ticketUrl: string | null }) {
  return (
    <dl class="facts">
      <dt>Line</dt>
      <dd>
        {m.site} / {m.line}
      </dd>
      <dt>Type</dt>
      <dd>{m.type}</dd>
      <dt>Owner</dt>
      <dd>{m.owner === null ? NONE : `${m.owner}, shard ${m.shard ?? NONE}`}</dd>
      <dt>Ticket</dt>
      <dd>
        {m.ticketId === null ? (
          NONE
        ) : ticketUrl ? (
          <a href={ticketUrl} target="_blank" rel="noreferrer">
            {m.ticketId}
          </a>
        ) : (
          m.ticketId
        )}
      </dd>
      <dt>In this state since</dt>
      <dd>{localTime(m.since)}</dd>
    </dl>
  );
}

function Kpis({ detail }: { detail: MachineDetail }) {
  const k = detail.kpi;
  const items: [string, string][] = [
    ['OEE', percent(k.oee)],
    ['Availability', percent(k.availability)],
    ['Performance', percent(k.performance)],
    ['Quality', percent(k.quality)],
    ['MTBF', duration(k.mtbfS)],
    ['MTTR', duration(k.mttrS)],
  ];
  return (
    <div class="kpis">
      {items.map(([name, value]) => (
        <div key={name} class="kpi">
          <span class="kpi-name">{name}</span>
          <span class="kpi-value">{value}</span>
        </div>
      ))}
      {k.at !== null && <span class="muted kpi-at">window of {localTime(k.at)}</span>}
    </div>
  );
}

function Charts({ loaded, limits }: { loaded: Loaded | null; limits: MachineDetail['limits'] }) {
  const prepared = useMemo(() => prepare(loaded, limits), [loaded, limits]);
  if (prepared === null) return <p class="muted">Loading the last hour…</p>;
  return (
    <div class="charts">
      {CHARTS.map((spec) => (
        <SeriesChart
          key={spec.key}
          spec={spec}
          t={prepared.t}
          values={prepared.values[spec.key]}
          limits={prepared.limits[spec.key]}
          range={prepared.range}
        />
      ))}
      <StateTimeline segments={prepared.segments} range={prepared.range} />
    </div>
  );
}

/** The series in uPlot's units (epoch seconds) over the hour that ends when they were fetched. */
function prepare(loaded: Loaded | null, limits: MachineDetail['limits']) {
  if (loaded === null) return null;
  const { series, to } = loaded;
  const from = to - MINUTES * 60_000;
  return {
    t: series.t.map((ms) => ms / 1000),
    values: {
      temperature: series.temperature,
      speed: series.speed,
      vibration: series.vibration,
      power: series.power,
    },
    limits: limitsBySeries(limits),
    range: [from / 1000, to / 1000] as [number, number],
    segments: stateSegments(series.states, from, to).map((s) => ({
      ...s,
      from: s.from / 1000,
      to: s.to / 1000,
    })),
  };
}
