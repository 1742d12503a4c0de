import { describe, expect, it } from 'vitest';
import {
  cellCenter,
  cellOrigin,
  FLOOR_METRICS,
  hitTest,
  layoutFloor,
  naturalKey,
  type PlacedMachine,
} from './floor-layout.js';

const { cell, gap, padding, headingHeight, lineGap } = FLOOR_METRICS;
const step = cell + gap;

function machines(line: string, count: number, site = 'S1', first = 1): PlacedMachine[] {
  return Array.from({ length: count }, (_, i) => ({
    machineId: `M-${String(first + i).padStart(4, '0')}`,
    site,
    line,
  }));
}

/** A width that fits exactly `columns` cells. */
const widthFor = (columns: number) => 2 * padding + columns * step - gap;

describe('floor layout', () => {
  it('puts lines one under another, each a heading then its machines in id order', () => {
    const fleet = [...machines('L2', 3, 'S1', 10), ...machines('L1', 2, 'S1', 1).reverse()];
    const layout = layoutFloor(fleet, widthFor(10));
    expect(layout.columns).toBe(10);
    expect(layout.lines.map((l) => [l.line, l.start, l.count, l.rows])).toEqual([
      ['L1', 0, 2, 1],
      ['L2', 2, 3, 1],
    ]);
    expect(layout.ids).toEqual(['M-0001', 'M-0002', 'M-0010', 'M-0011', 'M-0012']);
    const [l1, l2] = layout.lines;
    expect(l1!.headingY).toBe(padding);
    expect(l1!.cellsY).toBe(padding + headingHeight);
    expect(l2!.headingY).toBe(l1!.cellsY + cell + lineGap);
    expect(layout.height).toBe(l2!.cellsY + cell + padding);
  });

  it('orders ids as numbers where they are numbers (M-9 before M-10)', () => {
    const layout = layoutFloor(
      ['M-10', 'M-9', 'M-100'].map((machineId) => ({ machineId, site: 'S', line: 'L' })),
      500,
    );
    expect(layout.ids).toEqual(['M-9', 'M-10', 'M-100']);
  });

  it('wraps a line at the width', () => {
    const layout = layoutFloor(machines('L1', 25), widthFor(10));
    expect(layout.lines[0]!.rows).toBe(3);
    const top = layout.lines[0]!.cellsY;
    expect(cellOrigin(layout, 0)).toEqual({ x: padding, y: top });
    expect(cellOrigin(layout, 9)).toEqual({ x: padding + 9 * step, y: top });
    expect(cellOrigin(layout, 10)).toEqual({ x: padding, y: top + step });
    expect(cellOrigin(layout, 24)).toEqual({ x: padding + 4 * step, y: top + 2 * step });

    const narrower = layoutFloor(machines('L1', 25), widthFor(10) - 1);
    expect(narrower.columns).toBe(9);
    expect(narrower.lines[0]!.rows).toBe(3);
    expect(layoutFloor(machines('L1', 3), 1).columns).toBe(1);
  });

  it('hit-tests every cell back to its machine through its centre and corners', () => {
    const fleet = [...machines('L1', 37), ...machines('L2', 12, 'S1', 100), ...machines('L0', 5, 'S2', 500)];
    const layout = layoutFloor(fleet, 333);
    for (const m of fleet) {
      const centre = cellCenter(layout, m.machineId)!;
      expect(hitTest(layout, centre.x, centre.y)).toBe(m.machineId);
      const origin = cellOrigin(layout, layout.indexOf.get(m.machineId)!);
      expect(hitTest(layout, origin.x, origin.y)).toBe(m.machineId);
      expect(hitTest(layout, origin.x + cell - 0.01, origin.y + cell - 0.01)).toBe(m.machineId);
    }
  });

  it('finds nothing in gaps, headings, padding or past the last cell', () => {
    const layout = layoutFloor(machines('L1', 12), widthFor(10));
    const top = layout.lines[0]!.cellsY;
    expect(hitTest(layout, padding + cell + 1, top + 1)).toBeNull();
    expect(hitTest(layout, padding + 1, top + cell + 1)).toBeNull();
    expect(hitTest(layout, padding + 1, padding + 2)).toBeNull();
    expect(hitTest(layout, 2, top + 2)).toBeNull();
    expect(hitTest(layout, padding + 5 * step + 1, top + step + 1)).toBeNull();
    expect(hitTest(layout, padding + 1, layout.height + 50)).toBeNull();
    expect(cellCenter(layout, 'M-9999')).toBeNull();
  });

  it('lays out an empty floor', () => {
    const layout = layoutFloor([], 800);
    expect(layout.lines).toEqual([]);
    expect(layout.height).toBe(2 * padding);
    expect(hitTest(layout, 10, 10)).toBeNull();
  });

  it('lays out 10,000 machines quickly', () => {
    const fleet = Array.from({ length: 40 }, (_, l) => machines(`L${l}`, 250, 'S1', l * 250 + 1)).flat();
    const started = performance.now();
    const layout = layoutFloor(fleet, 1200);
    expect(performance.now() - started).toBeLessThan(500);
    expect(layout.ids).toHaveLength(10_000);
    const centre = cellCenter(layout, 'M-7777')!;
    expect(hitTest(layout, centre.x, centre.y)).toBe('M-7777');
  });
});

describe('natural sort key', () => {
  it('pads digit runs so plain string order is numeric order', () => {
    expect(naturalKey('M-9') < naturalKey('M-10')).toBe(true);
    expect(naturalKey('line-2') < naturalKey('line-10')).toBe(true);
    expect(naturalKey('A-100') < naturalKey('B-9')).toBe(true);
    expect(naturalKey('plain')).toBe('plain');
    expect(naturalKey('7x')).toBe('0000000000000007x');
  });
});
