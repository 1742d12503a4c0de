/** What the page exposes on `window` for the browser tests. */
import type { FloorProbe } from './floor-probe.js';

declare global {
  interface Window {
    __floor?: FloorProbe;
    /** performance.now() when the floor was first drawn with the snapshot's machines. */
    __firstFloorPaint?: number;
  }
}
