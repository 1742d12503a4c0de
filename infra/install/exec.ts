import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

/** An install step failed in a way the operator can act on; the message is one sentence. */
export class InstallError extends Error {}

export function hasCommand(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;
}

export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

export type Progress = (message: string) => void;

/**
 * Runs a long install command with its output in `logFile`, reporting elapsed time every
 * few seconds so the operator sees it is alive. Rejects with the log's location on failure.
 */
export function runLogged(
  what: string,
  command: string,
  args: string[],
  opts: { logFile: string; progress: Progress; env?: Record<string, string>; cwd?: string },
): Promise<void> {
  mkdirSync(dirname(opts.logFile), { recursive: true });
  appendFileSync(opts.logFile, `\n$ ${command} ${args.join(' ')}\n`);
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: opts.cwd,
      env: { ...process.env, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const write = (b: Buffer) => appendFileSync(opts.logFile, b);
    child.stdout.on('data', write);
    child.stderr.on('data', write);
    const ticker = setInterval(
      () => opts.progress(`${what}… ${Math.round((Date.now() - started) / 1000)}s`),
      5_000,
    );
    child.on('error', (err) => {
      clearInterval(ticker);
      reject(new InstallError(`${what} could not start ${command} (${err.message}).`));
    });
    child.on('close', (code) => {
      clearInterval(ticker);
      if (code === 0) resolve();
      else reject(new InstallError(`${what} failed (exit ${code}); see ${opts.logFile} for the reason.`));
    });
  });
}
