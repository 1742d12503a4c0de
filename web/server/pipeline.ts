/**
 * The pipeline processes' counters for the page and the API: each bridge's, writer's and
 * analytics processor's /healthz, read at most every 2 s however many browsers ask.
 */
import type { Config } from '../../common/config.js';
import { type PipelineSource, pipelineSources } from '../../infra/supervisor/pipeline-recorder.js';
import type { PipelineResponse } from '../api/schemas.js';

const FRESH_MS = 2_000;

export class PipelineCounters {
  private last: { at: number; value: Promise<PipelineResponse> } | undefined;

  constructor(
    config: Config,
    private readonly sources: PipelineSource[] = pipelineSources(config),
  ) {}

  read(now = Date.now()): Promise<PipelineResponse> {
    if (!this.last || now - this.last.at > FRESH_MS) this.last = { at: now, value: this.collect(now) };
    return this.last.value;
  }

  private async collect(now: number): Promise<PipelineResponse> {
    const components = await Promise.all(
      this.sources.map(async (s) => {
        try {
          const h = await s.read();
          return {
            component: s.component,
            role: s.role,
            ok: h.ok,
            detail: h.detail ?? '',
            counters: h.counters,
            rates: h.rates ?? {},
          };
        } catch (err) {
          return {
            component: s.component,
            role: s.role,
            ok: false,
            detail: `not answering: ${(err as Error).message}`,
            counters: {},
            rates: {},
          };
        }
      }),
    );
    return { components, asOf: now };
  }
}
