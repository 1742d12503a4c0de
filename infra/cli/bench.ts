import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import type { Config } from '../../common/config.js';
import { projectRoot } from '../../common/config.js';
import type { Output } from '../supervisor/output.js';
import { benchPipeline } from './bench-pipeline.js';

export interface BenchRequest {
  machines: number;
  seconds: number;
  outDir: string;
  /** Also measure the running stack's ingestion (needs `factory up`). */
  pipeline?: { config: Config; rate: number; seconds: number; machines: number };
}

/** Runs a benchmark script in a fresh Node (with --expose-gc) and returns its JSON line. */
function runScript(script: string, args: string[]): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--expose-gc', '--import', 'tsx', join(projectRoot, script), ...args],
      {
        cwd: projectRoot,
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let out = '';
    child.stdout.on('data', (b) => {
      out += b;
    });
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`${script} exited with ${code}`));
      try {
        resolve(JSON.parse(out.trim().split('\n').at(-1) ?? ''));
      } catch {
        reject(new Error(`${script} printed no JSON result`));
      }
    });
  });
}

const gitCommit = () =>
  spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: projectRoot, encoding: 'utf8' }).stdout.trim();

/**
 * `factory bench`: the machine-model benchmark (ticks per second and memory per actor for a
 * fleet), written as JSON with the machine it ran on, so runs can be compared over time.
 */
export async function bench(req: BenchRequest, out: Output): Promise<string> {
  out.line(
    `Benchmarking the machine model: ${req.machines} machines, ${req.seconds} simulated seconds each…`,
  );
  const actors = (await runScript('actors/bench.ts', [
    '--machines',
    String(req.machines),
    '--seconds',
    String(req.seconds),
  ])) as Record<string, unknown> & {
    ticksPerSecond: number;
    bytesPerActor: number;
    headless: { ticksPerSecond: number; bytesPerMachine: number };
    simulatedWeekMs: { actor: number | null; headless: number };
  };
  let pipeline: Awaited<ReturnType<typeof benchPipeline>> | undefined;
  if (req.pipeline) {
    const { config, ...load } = req.pipeline;
    out.line(
      `Benchmarking ingestion MQTT → Kafka → InfluxDB: ${load.rate} readings/s for ${load.seconds}s from ${load.machines} machines…`,
    );
    pipeline = await benchPipeline(config, load, out);
  }
  const result = {
    kind: 'factory-bench',
    at: new Date().toISOString(),
    commit: gitCommit(),
    host: { cores: cpus().length, cpu: cpus()[0]?.model, memoryBytes: totalmem(), node: process.version },
    actors,
    ...(pipeline ? { pipeline } : {}),
  };
  mkdirSync(req.outDir, { recursive: true });
  const file = join(req.outDir, `bench-${result.at.replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  writeFileSync(join(req.outDir, 'latest.json'), `${JSON.stringify(result, null, 2)}\n`);
  out.line(
    [
      `  XState actors: ${Math.round(actors.ticksPerSecond).toLocaleString('en')} ticks/s on one core, ${Math.round(actors.bytesPerActor).toLocaleString('en')} bytes per actor`,
      `  headless step: ${Math.round(actors.headless.ticksPerSecond).toLocaleString('en')} ticks/s, ${Math.round(actors.headless.bytesPerMachine).toLocaleString('en')} bytes per machine`,
      `  one machine, simulated week: ${actors.simulatedWeekMs.actor ?? '-'} ms as an actor, ${actors.simulatedWeekMs.headless} ms headless`,
      ...(pipeline
        ? [
            `  ingestion: ${pipeline.sustainedPerSecond} readings/s sustained (offered ${pipeline.offeredPerSecond}/s, ${pipeline.stored}/${pipeline.published} stored), end to end p50 ${pipeline.endToEndMs.p50} ms, p99 ${pipeline.endToEndMs.p99} ms`,
          ]
        : []),
      `Results: ${file}`,
    ].join('\n'),
  );
  return file;
}
