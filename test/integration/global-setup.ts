import { rmSync } from 'node:fs';
import { factory, testConfig } from './stack-env.js';

/**
 * Brings the suite's stack up once for every integration file and always takes it down,
 * whatever the tests did. A stack left by an aborted earlier run is stopped first, and its
 * data wiped, so every run starts from the same empty state.
 */
export default async function setup() {
  const config = testConfig();
  await factory(['down']);
  rmSync(config.dataDir, { recursive: true, force: true });
  const started = Date.now();
  const up = await factory(['up'], {}, 900_000);
  if (up.code !== 0) {
    await factory(['down']);
    throw new Error(`factory up failed (exit ${up.code}):\n${up.stdout}\n${up.stderr}`);
  }
  process.stdout.write(`[global-setup] stack healthy in ${((Date.now() - started) / 1000).toFixed(1)}s\n`);
  return async () => {
    const down = await factory(['down']);
    if (down.code !== 0) process.stderr.write(`[global-setup] factory down failed:\n${down.stderr}\n`);
  };
}
