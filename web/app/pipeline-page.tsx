/**
 * `#/pipeline`: the bridge, writer and analytics processes as they report themselves (pushed
 * every 5 s on the live events), and the lines' KPIs.
 */
import { useSignal } from '@preact/signals';
import type { PipelineResponse } from '../api/schemas.js';
import { getJson } from './api.js';
import { amount, duration, localTime, NONE, percent } from './format.js';
import { usePoll } from './hooks.js';
import { pipeline } from './store.js';
import type { KpisResponse, LineKpi, PipelineComponent } from './types.js';

const ROLE_ORDER = ['bridge', 'writer', 'analytics'];

export function PipelinePage() {
  const kpis = useSignal<LineKpi[] | null>(null);
  const kpiError = useSignal<string | null>(null);
  const pipelineError = useSignal<string | null>(null);

  // The live events push the pipeline every 5 s; ask once so the page is not empty until then.
  usePoll('pipeline', 10_000, async (signal) => {
    if (pipeline.peek() !== null) return;
    const answer = await getJson<PipelineResponse>('/api/pipeline', signal);
    if (answer.ok) pipeline.value = answer.value;
    else if (!signal.aborted) pipelineError.value = answer.error;
  });
  usePoll('kpis', 30_000, async (signal) => {
    const answer = await getJson<KpisResponse>('/api/kpis', signal);
    if (answer.ok) {
      kpis.value = answer.value.lines;
      kpiError.value = null;
    } else if (!signal.aborted) {
      kpiError.value = answer.error;
    }
  });

  const data = pipeline.value;
  const components = data
    ? [...data.components].sort(
        (a, b) =>
          ROLE_ORDER.indexOf(a.role) - ROLE_ORDER.indexOf(b.role) || a.component.localeCompare(b.component),
      )
    : [];
  return (
    <main class="page">
      <h1>Pipeline</h1>
      {data === null ? (
        <p class={pipelineError.value ? 'error' : 'muted'}>
          {pipelineError.value ?? 'Waiting for the pipeline…'}
        </p>
      ) : (
        <>
          <p class="muted">As of {localTime(data.asOf)}</p>
          <div class="components">
            {components.map((c) => (
              <ComponentTable key={c.component} component={c} />
            ))}
          </div>
        </>
      )}
      <h2>Lines</h2>
      {kpiError.value && <p class="error">{kpiError.value}</p>}
      {kpis.value === null ? (
        !kpiError.value && <p class="muted">Loading KPIs…</p>
      ) : (
        <LineKpis lines={kpis.value} />
      )}
    </main>
  );
}

function ComponentTable({ component: c }: { component: PipelineComponent }) {
  const rates = Object.entries(c.rates);
  const counters = Object.entries(c.counters);
  return (
    <section class="component">
      <h3>
        {c.component} <span class="muted">{c.role}</span>
      </h3>
      <table class="grid compact">
        <tbody>
          <tr>
            <th>OK</th>
            <td>{c.ok ? <span class="ok">yes</span> : <span class="error">no</span>}</td>
          </tr>
          <tr>
            <th>Detail</th>
            <td>{c.detail || NONE}</td>
          </tr>
          {rates.map(([name, value]) => (
            <tr key={`rate-${name}`}>
              <th>{name}/s</th>
              <td class="num">{amount(value)}</td>
            </tr>
          ))}
          {counters.map(([name, value]) => (
            <tr key={`counter-${name}`}>
              <th>{name}</th>
              <td class="num">{amount(value)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

function LineKpis({ lines }: { lines: LineKpi[] }) {
  if (lines.length === 0) return <p class="muted">No lines yet.</p>;
  return (
    <table class="grid">
      <thead>
        <tr>
          <th>Line</th>
          <th class="num">Machines</th>
          <th class="num">OEE</th>
          <th class="num">Availability</th>
          <th class="num">Performance</th>
          <th class="num">Quality</th>
          <th class="num">MTBF</th>
          <th class="num">MTTR</th>
        </tr>
      </thead>
      <tbody>
        {lines.map((l) => (
          <tr key={`${l.site}/${l.line}`}>
            <td>
              {l.site} / {l.line}
            </td>
            <td class="num">{l.machines}</td>
            <td class="num">{percent(l.kpi.oee)}</td>
            <td class="num">{percent(l.kpi.availability)}</td>
            <td class="num">{percent(l.kpi.performance)}</td>
            <td class="num">{percent(l.kpi.quality)}</td>
            <td class="num">{duration(l.kpi.mtbfS)}</td>
            <td class="num">{duration(l.kpi.mttrS)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
