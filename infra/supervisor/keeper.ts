import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { type Config, paths } from '../../common/config.js';
import type { Logger } from '../../common/log.js';
import { backoffDelay } from '../../common/retry.js';
import type { Component } from '../servers/component.js';
import { type KeeperState, keeperStateFile } from '../servers/keeper.js';
import { rotateLogs } from './log-rotate.js';
import type { Output } from './output.js';
import { stopProcess } from './process.js';
import {
  type ComponentStatus,
  probe,
  readPlan,
  running,
  startComponent,
  supervised,
  tryLock,
} from './stack.js';

export interface KeeperOptions {
  config: Config;
  log: Logger;
  /** How often liveness (pid) is checked: cheap, so often. */
  liveEveryMs: number;
  /** How often health (real work) is probed: each probe does a round trip per server. */
  healthEveryMs: number;
  /** How long a running component may stay unhealthy before it is restarted. */
  unhealthyGraceMs: number;
  /** Restart backoff bounds (doubling per restart of the same component). */
  backoff: { minMs: number; maxMs: number };
  /** After staying healthy this long a component's backoff starts from the bottom again. */
  resetAfterMs: number;
  clock?: () => number;
}

interface Watch {
  restarts: number;
  notBefore: number;
  unhealthySince?: number;
  lastDetail?: string;
  healthySince?: number;
}

/**
 * The stack's keeper: a small long-running supervisor. A component whose process died is
 * started again at once; one that stays unhealthy past a grace period is restarted, but only
 * while everything it depends on (the earlier tiers) is healthy, since restarting a bridge
 * does not bring Kafka back. Repeated restarts of one component back off. Every restart is
 * logged with its reason. It takes the stack's start lock for each restart, so it never races
 * `factory up`, and pauses while `factory up` holds it.
 */
export class Keeper {
  private readonly watches = new Map<string, Watch>();
  private readonly history: KeeperState['restarts'] = [];
  private lastHealth = 0;
  private health = new Map<string, ComponentStatus>();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private round: Promise<void> = Promise.resolve();
  private readonly clock: () => number;

  constructor(private readonly opts: KeeperOptions) {
    this.clock = opts.clock ?? Date.now;
  }

  start(): void {
    const tick = () => {
      this.round = this.check()
        .catch((err: Error) => this.opts.log.error('keeper round failed', { error: err.message }))
        .finally(() => {
          if (!this.stopped) this.timer = setTimeout(tick, this.opts.liveEveryMs);
        });
    };
    tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    // A restart in progress finishes (a half-started server is worse than a finished one).
    await this.round;
  }

  /** One round: restart the dead at once; probe health now and then; restart the stuck. */
  async check(): Promise<void> {
    const { config } = this.opts;
    const tiers = supervised(config, readPlan(config));
    const now = this.clock();
    if (now - this.lastHealth >= this.opts.healthEveryMs) {
      this.lastHealth = now;
      const rows = await Promise.all(tiers.flat().map((c) => probe(config, c)));
      this.health = new Map(rows.map((r) => [r.name, r]));
      try {
        const rotated = rotateLogs(paths(config).logs);
        if (rotated.length > 0) this.opts.log.info('logs rotated', { logs: rotated });
      } catch (err) {
        this.opts.log.warn('log rotation failed', { error: (err as Error).message });
      }
    }
    const due: { c: Component; w: Watch; why: string; stopFirst: boolean }[] = [];
    for (const [i, tier] of tiers.entries()) {
      const dependenciesHealthy = tiers
        .slice(0, i)
        .flat()
        .every((c) => this.health.get(c.name)?.healthy !== false);
      for (const c of tier) {
        const verdict = this.judge(c, dependenciesHealthy, now);
        if (verdict) due.push({ c, ...verdict });
      }
    }
    if (due.length > 0) await this.restartAll(due);
    this.writeState();
  }

  /**
   * One restart at a time, in tier order (servers before what uses them), under one hold of
   * the stack's start lock: `factory up` never starts the same component beside us.
   */
  private async restartAll(due: { c: Component; w: Watch; why: string; stopFirst: boolean }[]) {
    const release = tryLock(this.opts.config);
    if (typeof release === 'number') return; // `factory up` is at work: it starts what is missing
    try {
      for (const job of due) {
        if (this.stopped) break;
        await this.restart(job.c, job.w, job.why, job.stopFirst);
      }
    } finally {
      release();
    }
  }

  /** Whether a component must be restarted now, and why. */
  private judge(
    c: Component,
    dependenciesHealthy: boolean,
    now: number,
  ): { w: Watch; why: string; stopFirst: boolean } | undefined {
    const w = this.watches.get(c.name) ?? { restarts: 0, notBefore: 0 };
    this.watches.set(c.name, w);
    const alive = running(this.opts.config, c) !== undefined;
    const status = this.health.get(c.name);
    if (alive && status?.healthy) {
      w.unhealthySince = undefined;
      w.healthySince ??= now;
      if (now - w.healthySince >= this.opts.resetAfterMs) w.restarts = 0;
      return undefined;
    }
    w.healthySince = undefined;
    if (now < w.notBefore) return undefined;
    if (!alive) return { w, why: 'its process is not running', stopFirst: false };
    // Running but unhealthy, as of the last probe. Some unhealthiness a restart cannot cure
    // (a writer still writing, only slower than what arrives): reported, never restarted.
    if (!status || status.healthy || status.restartable === false) {
      w.unhealthySince = undefined;
      return undefined;
    }
    w.unhealthySince ??= now;
    if (now - w.unhealthySince < this.opts.unhealthyGraceMs || !dependenciesHealthy) return undefined;
    return {
      w,
      why: `unhealthy for ${Math.round((now - w.unhealthySince) / 1000)}s: ${status.detail}`,
      stopFirst: true,
    };
  }

  /** Called with the start lock held. */
  private async restart(c: Component, w: Watch, why: string, stopFirst: boolean) {
    const { config, log } = this.opts;
    // Re-read under the lock: `factory up` may have just started it.
    const record = running(config, c);
    if (record && !stopFirst) return;
    const t0 = this.clock();
    try {
      log.warn('restarting', { component: c.name, why, restart: w.restarts + 1 });
      if (record) await stopProcess(record, config.stopTimeoutMs);
      const started = await startComponent(config, c, quietOutput);
      log.info('restarted', { component: c.name, pid: started.pid, ms: this.clock() - t0 });
      this.history.push({ name: c.name, at: t0, why });
      if (this.history.length > 50) this.history.shift();
    } catch (err) {
      log.error('restart failed', { component: c.name, error: (err as Error).message });
    } finally {
      w.restarts++;
      w.unhealthySince = undefined;
      w.notBefore = this.clock() + backoffDelay(w.restarts - 1, this.opts.backoff);
      // Health is probed again soon, so a restarted component is judged on fresh facts.
      this.health.delete(c.name);
      this.lastHealth = 0;
      this.writeState(); // the restart is on record at once, not only after the round
    }
  }

  private writeState() {
    const file = keeperStateFile(this.opts.config);
    const state: KeeperState = { pid: process.pid, ts: this.clock(), restarts: this.history };
    mkdirSync(paths(this.opts.config).run, { recursive: true });
    writeFileSync(`${file}.tmp`, JSON.stringify(state));
    renameSync(`${file}.tmp`, file);
  }
}

/** The keeper has no terminal: start-up progress is not shown, only logged outcomes. */
const quietOutput: Output = { line: () => {}, progress: () => {} };
