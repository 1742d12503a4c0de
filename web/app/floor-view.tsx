/**
 * `#/`: the whole fleet on one canvas (see floor-painter.ts), with a tooltip and click-through
 * by hit-testing, a search box for a machine id, and for screen readers a hidden list of the
 * machines that need attention (the canvas itself has no text).
 */
import { useSignal } from '@preact/signals';
import { useEffect, useRef } from 'preact/hooks';
import { RING_COLORS } from './colors.js';
import { naturalKey } from './floor-layout.js';
import { FloorPainter } from './floor-painter.js';
import { attachFloor } from './floor-probe.js';
import { NONE } from './format.js';
import { machineHash } from './route.js';
import { navigate } from './router.js';
import { StateSwatches } from './state-badge.js';
import { alarms, fleet, hasSnapshot } from './store.js';

/** The hidden list changes at most this often: it is for reading, not for watching. */
const ATTENTION_LIST_MS = 1000;
/**
 * At most this many machines in the hidden list. It is short in a healthy plant; when a whole
 * site trips, thousands of list items rebuilt every second would cost the page more than a
 * screen reader user gains (the alarms page is the place to work through them).
 */
const ATTENTION_LIST_MAX = 200;

interface Hover {
  machineId: string;
  x: number;
  y: number;
}

interface Attention {
  /** The first machines in id order, FAULT before MAINTENANCE. */
  shown: { machineId: string; state: string }[];
  total: number;
}

export function FloorView() {
  const canvasRef = useRef<HTMLCanvasElement>(null);
  const hover = useSignal<Hover | null>(null);
  const attention = useSignal<Attention>({ shown: [], total: 0 });

  useEffect(() => {
    const canvas = canvasRef.current!;
    const painter = new FloorPainter(canvas, fleet, alarms);
    const detach = attachFloor(painter);

    const onMove = (e: MouseEvent) => {
      const machineId = painter.hitTest(e.offsetX, e.offsetY);
      canvas.style.cursor = machineId === null ? '' : 'pointer';
      if (machineId === hover.peek()?.machineId) return;
      const origin = machineId === null ? null : painter.cellOrigin(machineId);
      hover.value = machineId === null || origin === null ? null : { machineId, ...origin };
    };
    const onLeave = () => {
      hover.value = null;
    };
    const onClick = (e: MouseEvent) => {
      const machineId = painter.hitTest(e.offsetX, e.offsetY);
      if (machineId !== null) navigate(machineHash(machineId));
    };
    canvas.addEventListener('mousemove', onMove);
    canvas.addEventListener('mouseleave', onLeave);
    canvas.addEventListener('click', onClick);

    let timer: number | undefined;
    const refreshList = () => {
      timer = undefined;
      const next = machinesNeedingAttention();
      if (!sameAttention(next, attention.peek())) attention.value = next;
    };
    refreshList();
    const unsubscribe = fleet.subscribe(() => {
      timer ??= window.setTimeout(refreshList, ATTENTION_LIST_MS);
    });

    return () => {
      unsubscribe();
      window.clearTimeout(timer);
      canvas.removeEventListener('mousemove', onMove);
      canvas.removeEventListener('mouseleave', onLeave);
      canvas.removeEventListener('click', onClick);
      detach();
      painter.dispose();
    };
  }, [attention, hover]);

  return (
    <main class="floor">
      <div class="floor-bar">
        <MachineSearch />
        <Legend />
      </div>
      {!hasSnapshot.value && <p class="muted">Waiting for the live events…</p>}
      {hasSnapshot.value && fleet.machines.size === 0 && <p class="muted">No machines registered.</p>}
      <div class="floor-canvas">
        <canvas
          id="floor"
          ref={canvasRef}
          role="img"
          aria-label="Every machine as a coloured cell, grouped by line. The list that follows names the machines in fault or maintenance."
        />
        {hover.value && <Tooltip hover={hover.value} />}
      </div>
      <h2 class="sr-only">Machines in fault or maintenance ({attention.value.total})</h2>
      <ul class="sr-only">
        {attention.value.shown.map((m) => (
          <li key={m.machineId}>
            <a href={machineHash(m.machineId)}>
              {m.machineId}: {m.state}
            </a>
          </li>
        ))}
        {attention.value.total > attention.value.shown.length && (
          <li>and {attention.value.total - attention.value.shown.length} more</li>
        )}
      </ul>
    </main>
  );
}

function machinesNeedingAttention(): Attention {
  const faults: Attention['shown'] = [];
  const maintenance: Attention['shown'] = [];
  for (const m of fleet.machines.values()) {
    if (m.state === 'FAULT') faults.push({ machineId: m.machineId, state: m.state });
    else if (m.state === 'MAINTENANCE') maintenance.push({ machineId: m.machineId, state: m.state });
  }
  const shown = inIdOrder(faults).slice(0, ATTENTION_LIST_MAX);
  if (shown.length < ATTENTION_LIST_MAX) {
    shown.push(...inIdOrder(maintenance).slice(0, ATTENTION_LIST_MAX - shown.length));
  }
  return { shown, total: faults.length + maintenance.length };
}

function inIdOrder(list: Attention['shown']): Attention['shown'] {
  return list
    .map((m) => ({ key: naturalKey(m.machineId), m }))
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
    .map(({ m }) => m);
}

function sameAttention(a: Attention, b: Attention): boolean {
  return (
    a.total === b.total &&
    a.shown.length === b.shown.length &&
    a.shown.every((m, i) => m.machineId === b.shown[i]!.machineId && m.state === b.shown[i]!.state)
  );
}

function Tooltip({ hover }: { hover: Hover }) {
  const m = fleet.machines.get(hover.machineId);
  return (
    <div class="tooltip" style={{ left: `${hover.x + 18}px`, top: `${hover.y - 4}px` }}>
      <strong>{hover.machineId}</strong> {m?.state ?? 'UNKNOWN'}
      <br />
      owner {m?.owner ?? NONE}
    </div>
  );
}

function MachineSearch() {
  const text = useSignal('');
  const error = useSignal<string | null>(null);
  const submit = (e: Event) => {
    e.preventDefault();
    const wanted = text.value.trim();
    if (wanted === '') return;
    const machineId = fleet.machines.has(wanted) ? wanted : findIgnoringCase(wanted);
    if (machineId === null) {
      error.value = `No machine ${wanted} on the floor.`;
      return;
    }
    error.value = null;
    navigate(machineHash(machineId));
  };
  return (
    <form class="search" onSubmit={submit}>
      <input
        type="search"
        placeholder="Machine id, then Enter"
        aria-label="Open a machine by id"
        value={text.value}
        onInput={(e) => {
          text.value = e.currentTarget.value;
          error.value = null;
        }}
      />
      {error.value && <span class="error">{error.value}</span>}
    </form>
  );
}

function findIgnoringCase(wanted: string): string | null {
  const lower = wanted.toLowerCase();
  for (const id of fleet.machines.keys()) if (id.toLowerCase() === lower) return id;
  return null;
}

function Legend() {
  return (
    <ul class="legend">
      <StateSwatches />
      <li>
        <span class="swatch ring" style={{ borderColor: RING_COLORS.unacked }} />
        unacknowledged alarm
      </li>
      <li>
        <span class="swatch ring" style={{ borderColor: RING_COLORS.acked }} />
        acknowledged alarm
      </li>
    </ul>
  );
}
