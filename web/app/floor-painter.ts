/**
 * Draws the floor on one canvas and keeps it current. Changes from the live events and from the
 * open alarms collect in a set of machine ids; one animation frame repaints just those cells
 * (and the headings of their lines), so a frame costs what changed, not the fleet. The whole
 * floor is laid out and drawn again only when machines come or go or the width changes.
 */
import { effect, type ReadonlySignal } from '@preact/signals';
import type { Alarm } from '../api/schemas.js';
import { changedRings, type Ring, ringsOf } from './alarms.js';
import {
  FLOOR_BACKGROUND,
  FLOOR_TEXT,
  type MachineState,
  RING_COLORS,
  STATE_COLORS,
  STATE_ORDER,
} from './colors.js';
import type { Fleet, FleetChange } from './fleet.js';
import {
  cellCenter,
  cellOrigin,
  type FloorLayout,
  hitTest,
  layoutFloor,
  type Point,
} from './floor-layout.js';
import { recordPaint } from './floor-probe.js';

/** Browsers refuse canvases beyond about 32k px a side or 268M px in all. */
const MAX_CANVAS_SIDE = 32_000;
const MAX_CANVAS_AREA = 250_000_000;
/** Above this share of changed cells one full paint is cheaper than many small ones. */
const FULL_PAINT_SHARE = 0.25;
const RING_WIDTH = 2;
/** Cells remember what they show as small codes: a state's index in STATE_ORDER, a ring's. */
const STATE_CODES = Object.fromEntries(STATE_ORDER.map((s, i) => [s, i])) as Record<MachineState, number>;
const RUNNING = STATE_CODES.RUNNING;
const FAULT = STATE_CODES.FAULT;
/** A cell not drawn yet. */
const NOTHING = 255;
const RING_CODES: Record<Ring, number> = { unacked: 1, acked: 2 };
const HEADING_FONT = '600 12px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';

export class FloorPainter {
  private layout: FloorLayout = layoutFloor([], 0);
  private width = 0;
  private scale = 1;
  private needsLayout = true;
  private readonly pending = new Set<string>();
  private frame = 0;
  private rings = new Map<string, Ring>();
  /** The heading text each line shows, so an unchanged heading is not drawn again. */
  private headings: string[] = [];
  /** What each cell shows now (state and ring codes), by index in the layout's ids. */
  private drawnState = new Uint8Array(0);
  private drawnRing = new Uint8Array(0);
  /** Per line, how many of its cells show RUNNING and FAULT: kept as cells are painted, for the headings. */
  private running = new Uint32Array(0);
  private faults = new Uint32Array(0);
  private readonly ctx: CanvasRenderingContext2D;
  private readonly stops: (() => void)[] = [];

  constructor(
    private readonly canvas: HTMLCanvasElement,
    private readonly fleet: Fleet,
    alarms: ReadonlySignal<Alarm[]>,
  ) {
    const ctx = canvas.getContext('2d', { alpha: false });
    if (ctx === null) throw new Error('no 2d canvas context');
    this.ctx = ctx;
    this.stops.push(fleet.subscribe((change) => this.onFleetChange(change)));
    this.stops.push(effect(() => this.onAlarms(alarms.value)));
    const resize = new ResizeObserver((entries) => {
      const width = Math.floor(entries[0]?.contentRect.width ?? 0);
      if (width !== this.width || this.pixelScale() !== this.scale) {
        this.width = width;
        this.needsLayout = true;
        this.schedule();
      }
    });
    resize.observe(canvas);
    this.stops.push(() => resize.disconnect());
    this.width = Math.floor(canvas.getBoundingClientRect().width);
    this.schedule();
  }

  dispose(): void {
    for (const stop of this.stops) stop();
    if (this.frame !== 0) cancelAnimationFrame(this.frame);
    this.frame = 0;
  }

  /** Canvas pixels per CSS pixel as last laid out. */
  get pixelRatio(): number {
    return this.scale;
  }

  cellCenter(machineId: string): Point | null {
    return this.needsLayout ? null : cellCenter(this.layout, machineId);
  }

  /** The machine under a point in CSS px from the canvas' top-left. */
  hitTest(x: number, y: number): string | null {
    return hitTest(this.layout, x, y);
  }

  /** Top-left of a machine's cell, for placing the tooltip. */
  cellOrigin(machineId: string): Point | null {
    const index = this.layout.indexOf.get(machineId);
    return index === undefined ? null : cellOrigin(this.layout, index);
  }

  private onFleetChange(change: FleetChange): void {
    if (change.structural) this.needsLayout = true;
    else for (const id of change.changed) this.pending.add(id);
    this.schedule();
  }

  private onAlarms(alarms: Alarm[]): void {
    const next = ringsOf(alarms);
    for (const id of changedRings(this.rings, next)) this.pending.add(id);
    this.rings = next;
    this.schedule();
  }

  private schedule(): void {
    if (this.frame === 0) this.frame = requestAnimationFrame(this.paint);
  }

  private readonly paint = (): void => {
    this.frame = 0;
    if (this.width <= 0) return;
    if (this.needsLayout) {
      this.relayout();
    } else if (this.pending.size > this.layout.ids.length * FULL_PAINT_SHARE) {
      this.paintAll();
    } else if (this.pending.size > 0) {
      this.paintPending();
    } else {
      return;
    }
    this.pending.clear();
    recordPaint();
    if (this.fleet.hasSnapshot && window.__firstFloorPaint === undefined) {
      window.__firstFloorPaint = performance.now();
    }
  };

  private relayout(): void {
    this.needsLayout = false;
    this.layout = layoutFloor(this.fleet.machines.values(), this.width);
    const { width, height } = this.layout;
    this.scale = this.pixelScale();
    this.canvas.width = Math.round(width * this.scale);
    this.canvas.height = Math.round(height * this.scale);
    this.canvas.style.height = `${height}px`;
    this.paintAll();
  }

  /** devicePixelRatio for a crisp canvas, lowered when the floor is too tall for one canvas. */
  private pixelScale(): number {
    const { width, height } = this.layout;
    const ratio = window.devicePixelRatio || 1;
    const bySide = MAX_CANVAS_SIDE / Math.max(width, height, 1);
    const byArea = Math.sqrt(MAX_CANVAS_AREA / Math.max(width * height, 1));
    return Math.min(ratio, bySide, byArea);
  }

  private paintAll(): void {
    const { ctx, layout } = this;
    ctx.setTransform(this.scale, 0, 0, this.scale, 0, 0);
    ctx.fillStyle = FLOOR_BACKGROUND;
    ctx.fillRect(0, 0, layout.width, layout.height);
    // Set once here: assigning a font parses it, which would cost more than the headings' text.
    ctx.font = HEADING_FONT;
    ctx.textBaseline = 'alphabetic';
    this.headings = [];
    this.drawnState = new Uint8Array(layout.ids.length).fill(NOTHING);
    this.drawnRing = new Uint8Array(layout.ids.length);
    this.running = new Uint32Array(layout.lines.length);
    this.faults = new Uint32Array(layout.lines.length);
    for (let index = 0; index < layout.ids.length; index++) this.paintCell(index, false);
    for (let line = 0; line < layout.lines.length; line++) this.paintHeading(line);
  }

  private paintPending(): void {
    const lines = new Set<number>();
    for (const id of this.pending) {
      const index = this.layout.indexOf.get(id);
      if (index === undefined) continue;
      if (this.paintCell(index, true)) lines.add(this.layout.lineOf[index]!);
    }
    for (const line of lines) this.paintHeading(line);
  }

  /**
   * One cell: the state colour, and an alarm ring drawn inside the cell's own square (with a
   * white line between ring and fill, so a red ring shows on a red cell). Nothing reaches into
   * a neighbour's square, so repainting one cell never damages another, and the centre pixel is
   * always exactly the state colour. `clear`: paint the background first (not needed on a
   * freshly cleared canvas). Returns whether the cell's state changed (its heading may have).
   */
  private paintCell(index: number, clear: boolean): boolean {
    const id = this.layout.ids[index]!;
    const reported = this.fleet.machines.get(id)?.state;
    const state: MachineState = reported !== undefined && reported in STATE_CODES ? reported : 'UNKNOWN';
    const stateCode = STATE_CODES[state];
    const ring = this.rings.get(id);
    const ringCode = ring === undefined ? 0 : RING_CODES[ring];
    const before = this.drawnState[index]!;
    if (before === stateCode && this.drawnRing[index] === ringCode) return false;
    this.drawnState[index] = stateCode;
    this.drawnRing[index] = ringCode;
    if (before !== stateCode) this.count(this.layout.lineOf[index]!, before, stateCode);

    const { ctx } = this;
    const { cell } = this.layout.metrics;
    const { x, y } = cellOrigin(this.layout, index);
    if (clear) {
      ctx.fillStyle = FLOOR_BACKGROUND;
      ctx.fillRect(x - 1, y - 1, cell + 2, cell + 2);
    }
    if (ring === undefined) {
      ctx.fillStyle = STATE_COLORS[state];
      ctx.fillRect(x, y, cell, cell);
      return before !== stateCode;
    }
    ctx.fillStyle = RING_COLORS[ring];
    ctx.fillRect(x, y, cell, cell);
    ctx.fillStyle = FLOOR_BACKGROUND;
    ctx.fillRect(x + RING_WIDTH, y + RING_WIDTH, cell - 2 * RING_WIDTH, cell - 2 * RING_WIDTH);
    ctx.fillStyle = STATE_COLORS[state];
    const inset = RING_WIDTH + 1;
    ctx.fillRect(x + inset, y + inset, cell - 2 * inset, cell - 2 * inset);
    return before !== stateCode;
  }

  private count(line: number, before: number, after: number): void {
    if (before === RUNNING) this.running[line]! -= 1;
    if (before === FAULT) this.faults[line]! -= 1;
    if (after === RUNNING) this.running[line]! += 1;
    if (after === FAULT) this.faults[line]! += 1;
  }

  private paintHeading(lineIndex: number): void {
    const block = this.layout.lines[lineIndex]!;
    const running = this.running[lineIndex]!;
    const fault = this.faults[lineIndex]!;
    const noun = block.count === 1 ? 'machine' : 'machines';
    const text = `${block.site} / ${block.line} — ${block.count} ${noun}, ${running} running, ${fault} fault`;
    if (this.headings[lineIndex] === text) return;
    this.headings[lineIndex] = text;
    const { ctx } = this;
    const { padding, headingHeight } = this.layout.metrics;
    ctx.fillStyle = FLOOR_BACKGROUND;
    ctx.fillRect(0, block.headingY, this.layout.width, headingHeight - 2);
    ctx.fillStyle = FLOOR_TEXT;
    ctx.fillText(text, padding, block.headingY + 15);
  }
}
