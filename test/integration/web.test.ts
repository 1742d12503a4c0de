import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import type { Consumer } from 'kafkajs';
import type { NatsConnection } from 'nats';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { followAlarmEvents, type SeenAlarmEvent } from '../../analytics/alarm-feed.js';
import { formatAddress } from '../../common/config.js';
import { apiToken } from '../../common/credentials.js';
import { subjects } from '../../common/machine-commands.js';
import { connectNats } from '../../common/nats.js';
import { FleetRegistry } from '../../common/registry.js';
import { sampleQuantile } from '../../common/runtime.js';
import { waitFor } from '../../infra/supervisor/process.js';
import {
  alarmSchema,
  healthSchema,
  kpisResponseSchema,
  machineDetailSchema,
  machinesResponseSchema,
  pipelineResponseSchema,
  seriesResponseSchema,
  ticketsResponseSchema,
  workersResponseSchema,
} from '../../web/api/schemas.js';
import { escalationId, escalationStatusQuery } from '../../workflows/definitions.js';
import { launchBrowser } from '../support/browser.js';
import { factory, testConfig } from './stack-env.js';

// Functions passed to page.evaluate run in the browser; this file is compiled for Node, so the
// few browser globals they use are declared here, as narrowly as they are used.
interface Floor {
  cellCenter(id: string): { x: number; y: number } | null;
  /** Canvas pixels per CSS pixel. */
  pixelRatio: number;
}
interface FloorCanvas {
  getContext(kind: '2d'): {
    getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray };
  };
}
declare const window: {
  __floor?: Floor;
  __firstFloorPaint?: number;
  __longTasks: { at: number; ms: number }[];
};
declare const document: { getElementById(id: string): FloorCanvas | null };
declare const localStorage: { getItem(key: string): string | null };
declare const performance: { getEntriesByName(name: string): { startTime: number }[]; now(): number };
declare const requestAnimationFrame: (callback: () => void) => number;

/**
 * The web view and its API on the live stack. M-0005 is stopped and started (its cell changes
 * colour); M-0004 is jammed (it trips to FAULT, its cell turns red, its alarm shows) and the
 * alarm is acknowledged from the page (the acknowledgement comes back on Kafka `alarms` and in
 * its escalation workflow), then shelved from it. Then 10,000 machines: first paint, NATS-to-pixel latency and long
 * tasks while state changes stream.
 */
const config = testConfig();
const base = `http://${formatAddress(config.http)}`;
const artefacts = join(config.dataDir, '..', 'artefacts');
const STEPPED = 'M-0005';
const JAMMED = 'M-0004';
const COLOURS = {
  RUNNING: [0x2e, 0x9d, 0x57],
  IDLE: [0x9a, 0xa3, 0xad],
  MAINTENANCE: [0x3b, 0x7d, 0xd8],
  FAULT: [0xd9, 0x30, 0x25],
} as const;

let token = '';
let browser: Browser;
let nc: NatsConnection;
const events: SeenAlarmEvent[] = [];
let alarmsFeed: Consumer;

async function cli(args: string[]) {
  const r = await factory(args);
  return { ...r, out: `${r.stdout}${r.stderr}` };
}

/** GETs an API path and checks the answer against its schema. */
async function get<T extends z.ZodType>(path: string, schema: T): Promise<z.output<T>> {
  const res = await fetch(`${base}${path}`);
  const body = await res.json();
  expect(res.status, `${path}: ${JSON.stringify(body)}`).toBe(200);
  const parsed = schema.safeParse(body);
  expect(parsed.success ? [] : parsed.error.issues, path).toEqual([]);
  return parsed.data as z.output<T>;
}

const post = (path: string, body: unknown, auth: string | null = token) =>
  fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(auth ? { authorization: `Bearer ${auth}` } : {}) },
    body: JSON.stringify(body),
  });

/**
 * Opens the floor and waits for its first paint; where the time went, in ms since navigation:
 * the page's script running (it opens the event stream), the snapshot arriving, the first paint.
 */
async function loadFloor(page: Page) {
  await page.goto(`${base}/`);
  await page.waitForFunction(() => window.__firstFloorPaint, undefined, { timeout: 30_000 });
  return page.evaluate(() => ({
    scriptRanMs: Math.round(performance.getEntriesByName('factory:connect')[0]?.startTime ?? -1),
    snapshotMs: Math.round(performance.getEntriesByName('factory:snapshot')[0]?.startTime ?? -1),
    firstPaintMs: Math.round(window.__firstFloorPaint!),
  }));
}

/** The colour at a machine's cell centre on the floor canvas, or null when it has no cell. */
function cellColour(page: Page, machineId: string): Promise<number[] | null> {
  return page.evaluate((id) => {
    const floor = window.__floor;
    const c = floor?.cellCenter(id);
    const canvas = document.getElementById('floor');
    if (!floor || !c || !canvas) return null;
    const r = floor.pixelRatio;
    const d = canvas.getContext('2d').getImageData(Math.floor(c.x * r), Math.floor(c.y * r), 1, 1).data;
    return [d[0]!, d[1]!, d[2]!];
  }, machineId);
}

const near = (a: readonly number[] | null, b: readonly number[]) =>
  !!a && a.every((v, i) => Math.abs(v - b[i]!) <= 3);

async function shows(page: Page, machineId: string, state: keyof typeof COLOURS, timeoutMs: number) {
  let last: number[] | null = null;
  const ok = await waitFor(
    async () => {
      last = await cellColour(page, machineId);
      return near(last, COLOURS[state]);
    },
    timeoutMs,
    100,
  );
  expect(ok, `${machineId} drawn as ${state}; last colour ${JSON.stringify(last)}`).toBe(true);
}

beforeAll(async () => {
  mkdirSync(artefacts, { recursive: true });
  token = apiToken(config);
  nc = await connectNats(config, 'web-test', 'admin');
  alarmsFeed = await followAlarmEvents(config, 'web-test', (e) => events.push(e));
  browser = await launchBrowser();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await alarmsFeed?.disconnect();
  await nc?.close();
  for (const m of [JAMMED, STEPPED]) {
    await cli(['command', m, 'CLEAR_FAULT']);
    await cli(['command', m, 'START']);
  }
}, 120_000);

describe('the HTTP API', () => {
  it('answers every GET with a schema-valid body, and is described at /api/openapi.json', async () => {
    const health = await get('/api/health', healthSchema);
    expect(health.ok).toBe(true);
    const { machines } = await get('/api/machines', machinesResponseSchema);
    expect(machines.length).toBeGreaterThanOrEqual(10);
    expect(machines.find((m) => m.machineId === 'M-0001')).toMatchObject({ site: 'plant-1', line: 'line-1' });
    expect(machines.filter((m) => m.state === 'UNKNOWN' && m.type !== 'external')).toEqual([]);
    // The owner answers the live part within 2 s, or it is null: asked again if a busy one is late.
    let detail = await get('/api/machines/M-0001', machineDetailSchema);
    expect(
      await waitFor(
        async () => {
          detail = await get('/api/machines/M-0001', machineDetailSchema);
          return detail.live !== null;
        },
        20_000,
        1_000,
      ),
    ).toBe(true);
    expect(detail.live?.seq).toBeGreaterThan(0);
    expect(detail.limits.map((l) => l.field)).toContain('temperatureC');
    const series = await get('/api/machines/M-0001/series?minutes=30', seriesResponseSchema);
    expect(series.temperature.filter((v) => v !== null).length).toBeGreaterThan(0);
    expect(series.states.length).toBeGreaterThan(0);
    await get('/api/alarms', z.object({ alarms: z.array(alarmSchema) }));
    const kpis = await get('/api/kpis', kpisResponseSchema);
    expect(kpis.lines.map((l) => l.line)).toEqual(expect.arrayContaining(['line-1', 'line-2']));
    const workers = await get('/api/workers', workersResponseSchema);
    expect(new Set(workers.workers.flatMap((w) => w.shards)).size).toBe(workers.shards);
    let pipeline = await get('/api/pipeline', pipelineResponseSchema);
    expect(pipeline.components.map((c) => c.role)).toEqual(
      expect.arrayContaining(['bridge', 'writer', 'analytics']),
    );
    // Healthy at some moment (a process restarted by an earlier file settles within seconds).
    expect(
      await waitFor(
        async () => {
          pipeline = await get('/api/pipeline', pipelineResponseSchema);
          return pipeline.components.every((c) => c.ok);
        },
        30_000,
        2_500,
      ),
      JSON.stringify(pipeline.components.filter((c) => !c.ok)),
    ).toBe(true);
    await get('/api/tickets?all=true', ticketsResponseSchema);
    const doc = (await (await fetch(`${base}/api/openapi.json`)).json()) as {
      openapi: string;
      paths: object;
    };
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/api/machines/{machineId}/inject',
        '/api/alarms/{alarmId}/acknowledge',
        '/api/tickets',
      ]),
    );
  });

  it('refuses a POST without the token, a bad body with its reason, an unknown machine or fault', async () => {
    const none = await post(`/api/machines/${JAMMED}/inject`, { fault: 'jam' }, null);
    expect(none.status).toBe(401);
    const wrong = await post(`/api/machines/${JAMMED}/inject`, { fault: 'jam' }, 'not-the-token');
    expect(wrong.status).toBe(403);
    const bad = await post('/api/alarms/M-0001.temperature-high.1/shelve', { minutes: 0 });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toMatch(/^Invalid body: minutes: /);
    const unknown = await post('/api/machines/M-9999/inject', { fault: 'jam' });
    expect(unknown.status).toBe(404);
    const fault = await post(`/api/machines/${JAMMED}/inject`, { fault: 'melt' });
    expect(fault.status).toBe(400);
    expect(((await fault.json()) as { error: string }).error).toMatch(/Unknown fault "melt"/);
    // None of these reached the machine.
    let faults: unknown[] | undefined;
    expect(
      await waitFor(
        async () => {
          faults = (await get(`/api/machines/${JAMMED}`, machineDetailSchema)).live?.faults;
          return faults !== undefined;
        },
        20_000,
        1_000,
      ),
    ).toBe(true);
    expect(faults).toEqual([]);
  });
});

describe('the live view', () => {
  let page: Page;
  beforeAll(async () => {
    page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    await page.goto(`${base}/#token=${token}`);
    // The page keeps the token and takes it out of the address bar.
    await page.waitForFunction(() => localStorage.getItem('factory.apiToken') !== null, undefined, {
      timeout: 10_000,
    });
    expect(page.url()).not.toContain('token=');
  }, 60_000);

  it('draws every machine in its state colour and follows a change of state', async () => {
    // Each cell in the colour of the state the API reports (asked again: a machine may change).
    const { machines } = await get('/api/machines', machinesResponseSchema);
    for (const { machineId } of machines.filter((m) => m.state in COLOURS).slice(0, 10)) {
      let last: number[] | null = null;
      let state = '';
      const ok = await waitFor(
        async () => {
          state = (await get('/api/machines', machinesResponseSchema)).machines.find(
            (m) => m.machineId === machineId,
          )!.state;
          last = await cellColour(page, machineId);
          return state in COLOURS && near(last, COLOURS[state as keyof typeof COLOURS]);
        },
        10_000,
        200,
      );
      expect(ok, `${machineId} drawn as ${state}; last colour ${JSON.stringify(last)}`).toBe(true);
    }
    expect(
      await waitFor(async () => (await cli(['command', STEPPED, 'STOP'])).code === 0, 60_000, 1_000),
    ).toBe(true);
    await shows(page, STEPPED, 'IDLE', 5_000);
    expect((await cli(['command', STEPPED, 'START'])).code).toBe(0);
    await shows(page, STEPPED, 'RUNNING', 5_000);
  }, 120_000);

  it('a jam injected from the API turns its machine red and shows its alarm; acknowledging it in the page reaches Kafka and Temporal', async () => {
    const injectedAt = Date.now();
    expect(
      await waitFor(
        async () => {
          const res = await post(`/api/machines/${JAMMED}/inject`, { fault: 'jam' });
          // Applied by the owner, not merely accepted by the API.
          return res.ok && ((await res.json()) as { ok: boolean }).ok;
        },
        30_000,
        1_000,
      ),
    ).toBe(true);
    await shows(page, JAMMED, 'FAULT', 30_000);
    const raised = () =>
      events.find(
        (e) =>
          e.machineId === JAMMED &&
          e.rule === 'fault' &&
          e.transition === 'RAISED' &&
          e.ts >= injectedAt - 1_000,
      );
    expect(await waitFor(() => raised() !== undefined, 60_000, 250)).toBe(true);
    const alarmId = raised()!.alarmId;
    await page.goto(`${base}/#/alarms`);
    const row = page.locator(`tr[data-alarm-id="${alarmId}"]`);
    await row.waitFor({ state: 'visible', timeout: 15_000 });
    await page.screenshot({ path: join(artefacts, 'web-alarms.png') });
    await row.getByRole('button', { name: /acknowledge/i }).click();
    expect(
      await waitFor(
        () => events.some((e) => e.alarmId === alarmId && e.transition === 'ACKNOWLEDGED' && e.by === 'web'),
        30_000,
        250,
      ),
    ).toBe(true);
    const connection = await Connection.connect({ address: formatAddress(config.temporal) });
    try {
      const client = new Client({ connection, namespace: config.temporalNamespace });
      const handle = client.workflow.getHandle(escalationId(alarmId));
      expect(
        await waitFor(
          async () => {
            const s = await handle.query(escalationStatusQuery).catch(() => null);
            return s?.acknowledgedBy === 'web';
          },
          30_000,
          500,
        ),
      ).toBe(true);
    } finally {
      await connection.close();
    }
    // Shelving from the page reaches the alarm's owner the same way.
    await page.goto(`${base}/#/alarms`);
    await row.getByRole('spinbutton', { name: 'Shelve for minutes' }).fill('30');
    await row.getByRole('button', { name: 'Shelve' }).click();
    expect(
      await waitFor(
        () =>
          events.some(
            (e) =>
              e.alarmId === alarmId &&
              e.transition === 'SHELVED' &&
              e.by === 'web' &&
              e.shelvedUntil !== null,
          ),
        30_000,
        250,
      ),
    ).toBe(true);
    await page.goto(`${base}/#/`);
    await shows(page, JAMMED, 'FAULT', 10_000);
    await page.screenshot({ path: join(artefacts, 'web-floor.png') });
  }, 180_000);
});

describe('the live view at 10,000 machines', () => {
  const N = 10_000;
  const LINES = 4;
  const ids = Array.from({ length: N }, (_, i) => `W-${String(i + 1).padStart(5, '0')}`);
  const lineOf = (i: number) => `web-${(i % LINES) + 1}`;
  let registry: FleetRegistry;

  beforeAll(async () => {
    registry = await FleetRegistry.open(nc);
    await registry.registerExternal(
      ids.map((machineId, i) => ({ machineId, site: 'plant-9', line: lineOf(i) })),
    );
    // The server has them all before the page opens.
    expect(
      await waitFor(async () => (await get('/api/health', healthSchema)).machines >= N, 60_000, 500),
    ).toBe(true);
  }, 180_000);

  afterAll(async () => {
    await registry?.unregisterExternal(ids);
  }, 180_000);

  it('paints the floor in under 2 s, shows a state change within 1 s (p99), and no main-thread task takes 200 ms while changes stream', async () => {
    const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
    await page.addInitScript(() => {
      window.__longTasks = [];
      new PerformanceObserver((list) => {
        for (const e of list.getEntries()) window.__longTasks.push({ at: e.startTime, ms: e.duration });
      }).observe({ entryTypes: ['longtask' as never] });
    });
    // A first visit, then the measured one: a fresh page in a browser that has run before, as
    // in a control room. The first visit's figures are reported too.
    const cold = await loadFloor(page);
    const warm = await loadFloor(page);
    const firstPaintMs = warm.firstPaintMs;
    const states = ['RUNNING', 'IDLE', 'MAINTENANCE', 'FAULT'] as const;
    let seq = 0;
    const publishState = (i: number, to: string) =>
      nc.publish(
        subjects.state(ids[i]!),
        JSON.stringify({
          machineId: ids[i],
          site: 'plant-9',
          line: lineOf(i),
          from: 'UNKNOWN',
          to,
          ticketId: null,
          seq: ++seq,
          ts: Date.now(),
          owner: 'web-test',
          shard: 0,
        }),
      );
    // Every machine gets a state, then 500 changes a second stream (never to the first PROBES
    // machines) while probes are measured.
    const PROBES = 500;
    for (let i = 0; i < N; i++) publishState(i, states[i % 3]!);
    await nc.flush();
    expect(
      await waitFor(
        async () => near(await cellColour(page, ids[N - 1]!), COLOURS[states[(N - 1) % 3]!]),
        10_000,
        100,
      ),
    ).toBe(true);
    const streamStart = await page.evaluate(() => performance.now());
    let streaming = true;
    const churn = (async () => {
      while (streaming) {
        for (let k = 0; k < 50; k++)
          publishState(
            PROBES + Math.floor(Math.random() * (N - PROBES)),
            states[Math.floor(Math.random() * 3)]!,
          );
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    const latencies: number[] = [];
    try {
      for (let p = 0; p < 100; p++) {
        // A probe: a machine the churn leaves alone, turned FAULT, timed to the pixel.
        const i = p * 5;
        const seen = page.evaluate(
          ({ id, rgb }) =>
            new Promise<number>((resolve, reject) => {
              const ctx = document.getElementById('floor')!.getContext('2d');
              const floor = window.__floor!;
              const deadline = Date.now() + 10_000;
              const check = () => {
                const c = floor.cellCenter(id);
                const r = floor.pixelRatio;
                if (c) {
                  const d = ctx.getImageData(Math.floor(c.x * r), Math.floor(c.y * r), 1, 1).data;
                  if (
                    Math.abs(d[0]! - rgb[0]!) <= 3 &&
                    Math.abs(d[1]! - rgb[1]!) <= 3 &&
                    Math.abs(d[2]! - rgb[2]!) <= 3
                  )
                    return resolve(Date.now());
                }
                if (Date.now() > deadline) return reject(new Error(`${id} not drawn FAULT within 10 s`));
                requestAnimationFrame(check);
              };
              requestAnimationFrame(check);
            }),
          { id: ids[i]!, rgb: [...COLOURS.FAULT] },
        );
        const sentAt = Date.now();
        publishState(i, 'FAULT');
        latencies.push((await seen) - sentAt);
        publishState(i, states[i % 3]!);
        await new Promise((r) => setTimeout(r, 50));
      }
    } finally {
      streaming = false;
      await churn;
    }
    const longTasks = (await page.evaluate(() => window.__longTasks)).filter((t) => t.at >= streamStart);
    const figures = {
      machines: N + 10,
      firstPaintMs,
      firstVisit: cold,
      measuredVisit: warm,
      latencyMs: {
        p50: sampleQuantile(latencies, 0.5),
        p99: sampleQuantile(latencies, 0.99),
        max: Math.max(...latencies),
        probes: latencies.length,
      },
      longTasksWhileStreaming: longTasks.length,
      longTasks: longTasks.map((t) => ({ atMs: Math.round(t.at - streamStart), ms: Math.round(t.ms) })),
      longestTaskMs: Math.max(0, ...longTasks.map((t) => t.ms)),
    };
    writeFileSync(join(artefacts, 'web-scale.json'), `${JSON.stringify(figures, null, 2)}\n`);
    process.stdout.write(`[web] ${JSON.stringify(figures)}\n`);
    await page.screenshot({ path: join(artefacts, 'web-floor-10000.png') });
    await page.close();
    expect(firstPaintMs).toBeLessThan(2_000);
    expect(figures.latencyMs.p99).toBeLessThan(1_000);
    expect(figures.longestTaskMs).toBeLessThan(200);
  }, 300_000);
});
