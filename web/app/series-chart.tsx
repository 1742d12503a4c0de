/**
 * One signal of a machine over the last hour as a uPlot chart, with the machine's alarm limits
 * for that signal as dashed lines. Every chart (and the state timeline) uses the same y-axis
 * width and x range, so their plot areas line up and one cursor moves across all of them.
 */
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import type { Limit } from '../api/schemas.js';
import { SEVERITY_COLORS } from './colors.js';
import { type ChartSpec, valueRange } from './series.js';

export const CHART_SYNC_KEY = 'machine-charts';
export const Y_AXIS_SIZE = 64;
const HEIGHT = 170;

export interface SeriesChartProps {
  spec: ChartSpec;
  /** Epoch seconds. */
  t: number[];
  values: (number | null)[];
  limits: Limit[];
  /** The x range shown, epoch seconds: the hour asked for, even where data is missing. */
  range: [number, number];
}

export function SeriesChart({ spec, t, values, limits, range }: SeriesChartProps) {
  const host = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const current = useRef({ limits, range });
  current.current = { limits, range };

  useEffect(() => {
    const el = host.current!;
    const opts: uPlot.Options = {
      width: Math.max(200, el.clientWidth),
      height: HEIGHT,
      cursor: { sync: { key: CHART_SYNC_KEY } },
      scales: {
        x: { time: true, range: () => current.current.range },
        y: {
          range: (_u, min, max) =>
            valueRange(
              min,
              max,
              current.current.limits.map((l) => l.limit),
            ),
        },
      },
      axes: [{}, { size: Y_AXIS_SIZE }],
      series: [
        {},
        { label: `${spec.title} (${spec.unit})`, stroke: spec.color, width: 1.5, spanGaps: false },
      ],
      hooks: { draw: [(u) => drawLimits(u, current.current.limits)] },
    };
    return mountPlot(el, opts, HEIGHT, plot);
  }, [spec]);

  useEffect(() => {
    plot.current?.setData([t, values]);
  }, [t, values, limits, range]);

  return (
    <figure class="chart">
      <figcaption>
        {spec.title} <span class="muted">{spec.unit}</span>
      </figcaption>
      <div ref={host} />
    </figure>
  );
}

/**
 * Dashed horizontal lines at the limits, labelled with the rule, in the severity's colour. A
 * label sits at the right end above its line (below it at the top of the plot); one that would
 * overlap the previous label goes to the left end instead.
 */
function drawLimits(u: uPlot, limits: readonly Limit[]): void {
  if (limits.length === 0) return;
  const { ctx, bbox } = u;
  const px = uPlot.pxRatio;
  const labelHeight = 14 * px;
  const placed = limits
    .map((limit) => ({ limit, y: Math.round(u.valToPos(limit.limit, 'y', true)) + 0.5 }))
    .sort((a, b) => a.y - b.y);
  ctx.save();
  ctx.beginPath();
  ctx.rect(bbox.left, bbox.top, bbox.width, bbox.height);
  ctx.clip();
  ctx.lineWidth = px;
  ctx.setLineDash([6 * px, 4 * px]);
  ctx.font = `${11 * px}px system-ui, sans-serif`;
  /** Bottom edge of the last label placed at the right end (labels go top to bottom). */
  let rightLabelsEnd = Number.NEGATIVE_INFINITY;
  for (const { limit, y } of placed) {
    const color = SEVERITY_COLORS[limit.severity] ?? '#6b7280';
    ctx.strokeStyle = color;
    ctx.beginPath();
    ctx.moveTo(bbox.left, y);
    ctx.lineTo(bbox.left + bbox.width, y);
    ctx.stroke();
    ctx.fillStyle = color;
    const above = y - labelHeight > bbox.top;
    const labelY = above ? y - 2 * px : y + 2 * px;
    const labelTop = above ? labelY - labelHeight : labelY;
    const right = labelTop >= rightLabelsEnd;
    if (right) rightLabelsEnd = labelTop + labelHeight;
    ctx.textBaseline = above ? 'bottom' : 'top';
    ctx.textAlign = right ? 'right' : 'left';
    const label = `${limit.rule} (${limit.direction} ${limit.limit})`;
    ctx.fillText(label, right ? bbox.left + bbox.width - 4 * px : bbox.left + 4 * px, labelY);
  }
  ctx.restore();
}

/**
 * Creates the uPlot in `el`, keeps it as wide as `el` and returns the effect's cleanup. `plot`
 * holds it meanwhile, for data updates.
 */
export function mountPlot(
  el: HTMLElement,
  opts: uPlot.Options,
  height: number,
  plot: { current: uPlot | null },
): () => void {
  const chart = new uPlot(opts, [[], []], el);
  plot.current = chart;
  const resize = new ResizeObserver(() => chart.setSize({ width: Math.max(200, el.clientWidth), height }));
  resize.observe(el);
  return () => {
    resize.disconnect();
    chart.destroy();
    plot.current = null;
  };
}
