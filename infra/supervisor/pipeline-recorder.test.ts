import type { InfluxDB, IPoint } from 'influx';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../common/config.js';
import type { Logger } from '../../common/log.js';
import type { Healthz } from '../servers/pipeline.js';
import {
  PipelineRecorder,
  type PipelineSource,
  pipelinePoint,
  pipelineSources,
} from './pipeline-recorder.js';

const healthz = (counters: Record<string, number>): Healthz => ({ ok: true, counters });
const silentLog = { info() {}, warn() {}, error() {} } as unknown as Logger;

describe('pipeline recorder', () => {
  it('names every bridge, writer and analytics process the configuration runs', () => {
    const config = loadConfig({ FACTORY_BRIDGES: '2', FACTORY_WRITERS: '1', FACTORY_ANALYTICS: '2' });
    expect(pipelineSources(config).map((s) => s.component)).toEqual([
      'bridge-1',
      'bridge-2',
      'writer-1',
      'analytics-1',
      'analytics-2',
    ]);
  });

  it('turns counters into the pipeline point, a missing counter as 0', () => {
    const p = pipelinePoint(
      { component: 'bridge-1', role: 'bridge' },
      healthz({ received: 120, forwarded: 118.4, deadLettered: 2 }),
      1_000,
    );
    expect(p).toEqual({
      measurement: 'pipeline',
      tags: { component: 'bridge-1', role: 'bridge' },
      fields: { received: 120, forwarded: 118, written: 0, dead_lettered: 2, lag: 0 },
      timestamp: 1_000,
    });
  });

  it('writes what answered, skips what did not, and survives InfluxDB refusing', async () => {
    const written: IPoint[][] = [];
    let refuse = false;
    const influx = {
      writePoints: async (points: IPoint[]) => {
        if (refuse) throw new Error('connection refused');
        written.push(points);
      },
    } as unknown as InfluxDB;
    const sources: PipelineSource[] = [
      { component: 'writer-1', role: 'writer', read: async () => healthz({ written: 5, lag: 3 }) },
      { component: 'bridge-1', role: 'bridge', read: async () => Promise.reject(new Error('down')) },
    ];
    const r = new PipelineRecorder(loadConfig({}), silentLog, influx, sources, () => 7);
    expect(await r.record()).toBe(1);
    expect(written[0]!.map((p) => p.tags!.component)).toEqual(['writer-1']);
    refuse = true;
    expect(await r.record()).toBe(0);
  });
});
