/**
 * Where every machine's cell sits on the floor canvas: lines one under another, each a heading
 * row and then its machines in id order, wrapping at the canvas width. Pure arithmetic, so
 * painting, hit-testing and the test hook all agree, and a click maps to a machine with no
 * element per machine.
 */

export interface FloorMetrics {
  /** A cell's side, CSS px. */
  cell: number;
  /** Space between cells, CSS px. */
  gap: number;
  /** Space around everything, CSS px. */
  padding: number;
  /** The heading row above a line's cells. */
  headingHeight: number;
  /** Space between the last cell row of a line and the next heading. */
  lineGap: number;
}

export const FLOOR_METRICS: FloorMetrics = { cell: 14, gap: 3, padding: 8, headingHeight: 24, lineGap: 10 };

/** What the layout needs of a machine. */
export interface PlacedMachine {
  machineId: string;
  site: string;
  line: string;
}

export interface LineBlock {
  site: string;
  line: string;
  /** Index of the line's first machine in `FloorLayout.ids`. */
  start: number;
  count: number;
  /** Top of the heading row. */
  headingY: number;
  /** Top of the first cell row. */
  cellsY: number;
  rows: number;
}

export interface FloorLayout {
  metrics: FloorMetrics;
  width: number;
  height: number;
  /** Cells per row, the same for every line. */
  columns: number;
  /** Machine ids in drawing order: by line, then by id. */
  ids: string[];
  indexOf: Map<string, number>;
  /** The line (index into `lines`) of each machine, by its index in `ids`. */
  lineOf: Uint32Array;
  lines: LineBlock[];
}

export interface Point {
  x: number;
  y: number;
}

const DIGIT_PAD = '0000000000000000';

/**
 * The key machine ids sort by, as people read them (M-9 before M-10): every run of digits padded
 * to 16 places, so plain string comparison does the work. A hand-written scan, because this runs
 * for every machine on every relayout and is several times faster than a regex replace (and
 * far faster than sorting with a numeric Intl.Collator).
 */
export function naturalKey(id: string): string {
  let key = '';
  let copied = 0;
  let i = 0;
  while (i < id.length) {
    if (!isDigit(id.charCodeAt(i))) {
      i++;
      continue;
    }
    let end = i + 1;
    while (end < id.length && isDigit(id.charCodeAt(end))) end++;
    key += id.slice(copied, i);
    if (end - i < DIGIT_PAD.length) key += DIGIT_PAD.slice(end - i);
    key += id.slice(i, end);
    copied = end;
    i = end;
  }
  return copied === 0 ? id : key + id.slice(copied);
}

function isDigit(code: number): boolean {
  return code >= 48 && code <= 57;
}

const byKey = (a: { key: string }, b: { key: string }) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);

export function layoutFloor(
  machines: Iterable<PlacedMachine>,
  width: number,
  metrics: FloorMetrics = FLOOR_METRICS,
): FloorLayout {
  const { cell, gap, padding, headingHeight, lineGap } = metrics;
  const step = cell + gap;
  const columns = Math.max(1, Math.floor((width - 2 * padding + gap) / step));

  type Group = { key: string; site: string; line: string; ids: { key: string; id: string }[] };
  const byLine = new Map<string, Group>();
  for (const m of machines) {
    const lineKey = `${m.site}\u0000${m.line}`;
    let group = byLine.get(lineKey);
    if (group === undefined) {
      group = {
        key: `${naturalKey(m.site)}\u0000${naturalKey(m.line)}`,
        site: m.site,
        line: m.line,
        ids: [],
      };
      byLine.set(lineKey, group);
    }
    group.ids.push({ key: naturalKey(m.machineId), id: m.machineId });
  }
  const groups = [...byLine.values()].sort(byKey);

  const ids: string[] = [];
  const lines: LineBlock[] = [];
  let y = padding;
  for (const group of groups) {
    group.ids.sort(byKey);
    const rows = Math.ceil(group.ids.length / columns);
    const cellsY = y + headingHeight;
    lines.push({
      site: group.site,
      line: group.line,
      start: ids.length,
      count: group.ids.length,
      headingY: y,
      cellsY,
      rows,
    });
    for (const { id } of group.ids) ids.push(id);
    y = cellsY + rows * step - gap + lineGap;
  }

  const indexOf = new Map<string, number>();
  const lineOf = new Uint32Array(ids.length);
  lines.forEach((block, lineIndex) => {
    for (let i = block.start; i < block.start + block.count; i++) {
      indexOf.set(ids[i]!, i);
      lineOf[i] = lineIndex;
    }
  });
  const height = lines.length === 0 ? 2 * padding : y - lineGap + padding;
  return { metrics, width, height, columns, ids, indexOf, lineOf, lines };
}

/** Top-left corner of the cell of the machine at `index` in `layout.ids`. */
export function cellOrigin(layout: FloorLayout, index: number): Point {
  const block = layout.lines[layout.lineOf[index]!]!;
  const step = layout.metrics.cell + layout.metrics.gap;
  const inLine = index - block.start;
  return {
    x: layout.metrics.padding + (inLine % layout.columns) * step,
    y: block.cellsY + Math.floor(inLine / layout.columns) * step,
  };
}

/** Centre of a machine's cell (CSS px from the canvas' top-left), or null when it is not on the floor. */
export function cellCenter(layout: FloorLayout, machineId: string): Point | null {
  const index = layout.indexOf.get(machineId);
  if (index === undefined) return null;
  const origin = cellOrigin(layout, index);
  const half = Math.floor(layout.metrics.cell / 2);
  return { x: origin.x + half, y: origin.y + half };
}

/** The machine whose cell contains the point, or null for gaps, headings and empty space. */
export function hitTest(layout: FloorLayout, x: number, y: number): string | null {
  const { cell, gap, padding } = layout.metrics;
  const step = cell + gap;
  const block = lineAt(layout.lines, y);
  if (block === undefined) return null;
  const dx = x - padding;
  const dy = y - block.cellsY;
  if (dx < 0 || dy < 0) return null;
  const column = Math.floor(dx / step);
  const row = Math.floor(dy / step);
  if (column >= layout.columns || row >= block.rows) return null;
  if (dx - column * step >= cell || dy - row * step >= cell) return null;
  const inLine = row * layout.columns + column;
  return inLine < block.count ? layout.ids[block.start + inLine]! : null;
}

/** The last line whose heading starts at or above y (binary search: lines are in y order). */
function lineAt(lines: readonly LineBlock[], y: number): LineBlock | undefined {
  let low = 0;
  let high = lines.length - 1;
  let found: LineBlock | undefined;
  while (low <= high) {
    const mid = (low + high) >> 1;
    const block = lines[mid]!;
    if (block.headingY <= y) {
      found = block;
      low = mid + 1;
    } else {
      high = mid - 1;
    }
  }
  return found;
}
