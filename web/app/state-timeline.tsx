/**
 * The machine's states over the same hour as the charts, as a coloured strip. It is a uPlot of
 * its own with no series, so it shares the charts' x axis, y-axis width and cursor.
 */
import { useEffect, useRef } from 'preact/hooks';
import type uPlot from 'uplot';
import { stateColor } from './colors.js';
import type { StateSegment } from './series.js';
import { CHART_SYNC_KEY, mountPlot, Y_AXIS_SIZE } from './series-chart.js';
import { StateSwatches } from './state-badge.js';

/** Tall enough for a clear band above the time axis (which takes about 50 px). */
const HEIGHT = 96;

/** `segments` and `range` in epoch seconds. */
export function StateTimeline({ segments, range }: { segments: StateSegment[]; range: [number, number] }) {
  const host = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const current = useRef({ segments, range });
  current.current = { segments, range };

  useEffect(() => {
    const el = host.current!;
    const opts: uPlot.Options = {
      width: Math.max(200, el.clientWidth),
      height: HEIGHT,
      legend: { show: false },
      cursor: { sync: { key: CHART_SYNC_KEY }, y: false, points: { show: false } },
      scales: { x: { time: true, range: () => current.current.range }, y: { range: [0, 1] } },
      axes: [
        {},
        {
          size: Y_AXIS_SIZE,
          label: 'state',
          labelSize: 14,
          values: () => [],
          ticks: { show: false },
          grid: { show: false },
        },
      ],
      series: [{}, { show: false }],
      hooks: { draw: [(u) => drawSegments(u, current.current.segments)] },
    };
    return mountPlot(el, opts, HEIGHT, plot);
  }, []);

  useEffect(() => {
    plot.current?.setData([range, [null, null]]);
  }, [segments, range]);

  return (
    <figure class="chart">
      <figcaption>State</figcaption>
      <div ref={host} />
      <ul class="legend">
        <StateSwatches />
      </ul>
    </figure>
  );
}

function drawSegments(u: uPlot, segments: readonly StateSegment[]): void {
  const { ctx, bbox } = u;
  ctx.save();
  for (const s of segments) {
    const x0 = u.valToPos(s.from, 'x', true);
    const x1 = u.valToPos(s.to, 'x', true);
    ctx.fillStyle = stateColor(s.state);
    ctx.fillRect(x0, bbox.top, Math.max(1, x1 - x0), bbox.height);
  }
  ctx.restore();
}
