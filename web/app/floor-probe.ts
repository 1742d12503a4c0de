/**
 * `window.__floor`, the browser tests' view of the floor canvas: there is no element per machine
 * to query, so a test asks where a machine's cell is and reads the pixel there, and watches
 * `paints` / `lastPaint` to time a change from NATS to the screen.
 */
import type { Point } from './floor-layout.js';

export interface FloorProbe {
  /** Centre of the machine's cell in CSS px from the canvas' top-left; null when not drawn. */
  cellCenter(machineId: string): Point | null;
  /** performance.now() of the latest paint (full or of changed cells). */
  lastPaint: number;
  /** Paints so far (one per animation frame that drew anything). */
  paints: number;
  /**
   * Canvas pixels per CSS pixel: devicePixelRatio, unless the floor is too tall for a canvas at
   * that ratio. Multiply a cellCenter by it to read the pixel with getImageData.
   */
  pixelRatio: number;
}

interface FloorGeometry {
  cellCenter(machineId: string): Point | null;
  readonly pixelRatio: number;
}

let current: FloorGeometry | null = null;

export const floorProbe: FloorProbe = {
  cellCenter: (machineId) => current?.cellCenter(machineId) ?? null,
  lastPaint: 0,
  paints: 0,
  get pixelRatio() {
    return current?.pixelRatio ?? window.devicePixelRatio;
  },
};

export function installFloorProbe(): void {
  window.__floor = floorProbe;
}

/** The floor on screen now (the floor view unmounts when another page is open). */
export function attachFloor(geometry: FloorGeometry): () => void {
  current = geometry;
  return () => {
    if (current === geometry) current = null;
  };
}

export function recordPaint(): void {
  floorProbe.lastPaint = performance.now();
  floorProbe.paints += 1;
}
