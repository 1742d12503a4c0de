import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { type Config, paths } from '../../common/config.js';
import { isAlive, readPidFile } from '../supervisor/process.js';
import { type Component, type ComponentContext, projectProcess } from './component.js';

const stateSchema = z.object({
  pid: z.number().int(),
  ts: z.number(),
  restarts: z.array(z.object({ name: z.string(), at: z.number(), why: z.string() })),
});
/** What the keeper writes to `run/keeper.json` after every round. */
export type KeeperState = z.infer<typeof stateSchema>;

export const keeperStateFile = (config: Config) => join(paths(config).run, 'keeper.json');

/** A round that has not finished for this long means the keeper is stuck. */
const STALE_MS = 30_000;

/**
 * The keeper as a supervised process: healthy when its last round is recent and was written
 * by the process its pid file names.
 */
export function keeper(ctx: ComponentContext): Component {
  const { config } = ctx;
  const read = (): KeeperState => {
    const record = readPidFile(paths(config).pid('keeper'));
    if (!record || !isAlive(record)) throw new Error('not running');
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(keeperStateFile(config), 'utf8'));
    } catch {
      throw new Error('has not finished a round yet');
    }
    const state = stateSchema.parse(raw);
    if (state.pid !== record.pid)
      throw new Error(`last round was written by pid ${state.pid}, not ${record.pid}`);
    const age = Date.now() - state.ts;
    if (age > STALE_MS) throw new Error(`last round finished ${Math.round(age / 1000)}s ago`);
    return state;
  };
  return {
    name: 'keeper',
    address: 'restarts dead or stuck components',
    binds: [],
    replaceWhenStuck: true,
    async prepare() {},
    spawn: () => projectProcess(config, 'infra/supervisor/keeper-main.ts', []),
    ping: async () => void read(),
    async health() {
      const s = read();
      const last = s.restarts.at(-1);
      return last
        ? `watching; ${s.restarts.length} restarts, last: ${last.name} at ${new Date(last.at).toISOString()} (${last.why})`
        : 'watching; no restarts';
    },
  };
}
