/**
 * The pipeline's own counters as data: every 10 s the keeper reads each bridge's, writer's and
 * analytics processor's /healthz and writes one point per process to InfluxDB `pipeline`
 * (tags component, role; cumulative counters and the Kafka lag), which the pipeline-health
 * dashboard reads. A process that does not answer is skipped for that round; InfluxDB being
 * down costs the round, never the keeper.
 */
import type { InfluxDB, IPoint } from 'influx';
import type { Config } from '../../common/config.js';
import { MEASUREMENTS } from '../../common/influx-schema.js';
import type { Logger } from '../../common/log.js';
import { pipelineInflux, writeRaw } from '../../pipeline/influx.js';
import { readAnalyticsHealthz } from '../servers/analytics.js';
import { type Healthz, readHealthz } from '../servers/pipeline.js';

export type RecordedRole = 'bridge' | 'writer' | 'analytics';

export interface PipelineSource {
  component: string;
  role: RecordedRole;
  read: () => Promise<Healthz>;
}

/** Every pipeline process the configuration runs. */
export function pipelineSources(config: Config): PipelineSource[] {
  const { bridges, writers, analytics } = config.pipeline;
  const of = (role: RecordedRole, count: number, read: (n: number) => Promise<Healthz>) =>
    Array.from({ length: count }, (_, i) => ({
      component: `${role}-${i + 1}`,
      role,
      read: () => read(i + 1),
    }));
  return [
    ...of('bridge', bridges, (n) => readHealthz(config, 'bridge', n)),
    ...of('writer', writers, (n) => readHealthz(config, 'writer', n)),
    ...of('analytics', analytics, (n) => readAnalyticsHealthz(config, n)),
  ];
}

/** One process's counters as a point; a counter the process does not keep is 0. */
export function pipelinePoint(
  source: Pick<PipelineSource, 'component' | 'role'>,
  h: Healthz,
  ts: number,
): IPoint {
  const c = (name: string) => Math.max(0, Math.round(h.counters[name] ?? 0));
  return {
    measurement: MEASUREMENTS.pipeline,
    tags: { component: source.component, role: source.role },
    fields: {
      received: c('received'),
      forwarded: c('forwarded'),
      written: c('written'),
      dead_lettered: c('deadLettered'),
      lag: c('lag'),
    },
    timestamp: ts,
  };
}

export class PipelineRecorder {
  private timer: NodeJS.Timeout | undefined;
  private round: Promise<void> = Promise.resolve();
  private failing = false;

  constructor(
    config: Config,
    private readonly log: Logger,
    private readonly influx: InfluxDB = pipelineInflux(config, 'writer'),
    private readonly sources: PipelineSource[] = pipelineSources(config),
    private readonly clock: () => number = Date.now,
  ) {}

  start(everyMs: number): void {
    this.timer = setInterval(() => {
      this.round = this.round.then(async () => void (await this.record()));
    }, everyMs);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.round;
  }

  /** One round: the processes that answer, written at once. */
  async record(): Promise<number> {
    const ts = this.clock();
    const read = await Promise.all(
      this.sources.map((s) =>
        s.read().then(
          (h) => pipelinePoint(s, h, ts),
          () => null,
        ),
      ),
    );
    const points = read.filter((p): p is IPoint => p !== null);
    if (points.length === 0) return 0;
    try {
      await writeRaw(this.influx, points);
      if (this.failing) this.log.info('pipeline counters recorded again', { points: points.length });
      this.failing = false;
      return points.length;
    } catch (err) {
      // Said once per outage, not every 10 s.
      if (!this.failing) this.log.warn('pipeline counters not recorded', { error: (err as Error).message });
      this.failing = true;
      return 0;
    }
  }
}
