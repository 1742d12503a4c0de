import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { z } from 'zod';

/** What a pid file records: enough to tell our process from an unrelated one that reused the pid. */
const pidFileSchema = z.object({
  pid: z.number().int().positive(),
  marker: z.string(),
  startedAt: z.string(),
  command: z.array(z.string()),
});
export type PidRecord = z.infer<typeof pidFileSchema>;

export interface SpawnSpec {
  command: string;
  args: string[];
  cwd?: string;
  env?: Record<string, string>;
  /** A string that appears in the process's command line (a config path in the data dir). */
  marker: string;
}

export function readPidFile(file: string): PidRecord | undefined {
  try {
    const parsed = pidFileSchema.safeParse(JSON.parse(readFileSync(file, 'utf8')));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Live, not a zombie, and still running the command we started (pids get reused).
 *
 * A process still inside execve has an empty command line: spawn() returns once the exec has
 * closed the child's close-on-exec fds, which the kernel does before it lays out the new
 * arguments. Read as "dead", that window made `factory up` report a healthy new process as
 * "exited during start-up" (seen once in CI on a loaded machine).
 */
export function isAlive(record: PidRecord): boolean {
  try {
    const state = processState(record.pid);
    if (state === 'Z' || state === 'X') return false;
    const cmdline = readFileSync(`/proc/${record.pid}/cmdline`, 'utf8');
    return cmdline === '' || cmdline.includes(record.marker);
  } catch {
    return false;
  }
}

/** The kernel's one-letter state of a process (/proc/<pid>/stat: R, S, T stopped, Z zombie…); throws if it is gone. */
export function processState(pid: number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
}

/**
 * Starts a server detached in its own process group, output appended to its log file, and
 * records it in a pid file. The CLI exits afterwards; the pid file is how later commands find it.
 */
export function startDetached(spec: SpawnSpec, logFile: string, pidFile: string): PidRecord {
  mkdirSync(dirname(logFile), { recursive: true });
  mkdirSync(dirname(pidFile), { recursive: true });
  const fd = openSync(logFile, 'a');
  try {
    const child = spawn(spec.command, spec.args, {
      cwd: spec.cwd,
      env: { ...process.env, ...spec.env },
      detached: true,
      stdio: ['ignore', fd, fd],
    });
    if (child.pid === undefined) throw new Error(`could not start ${spec.command}`);
    child.unref();
    const record: PidRecord = {
      pid: child.pid,
      marker: spec.marker,
      startedAt: new Date().toISOString(),
      command: [spec.command, ...spec.args],
    };
    writeFileSync(pidFile, `${JSON.stringify(record)}\n`);
    return record;
  } finally {
    closeSync(fd);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` until it returns true or the deadline passes; returns whether it did. */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number, everyMs = 100) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() >= deadline) return false;
    await sleep(everyMs);
  }
}

function signalGroup(pid: number, signal: NodeJS.Signals) {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}

/**
 * TERM to the whole process group, KILL after the deadline. Returns how it ended so the
 * caller can report a server that needed KILL (a sign of a slow or stuck shutdown).
 */
export async function stopProcess(
  record: PidRecord,
  timeoutMs: number,
): Promise<'stopped' | 'killed' | 'absent'> {
  if (!isAlive(record)) return 'absent';
  signalGroup(record.pid, 'SIGTERM');
  signalGroup(record.pid, 'SIGCONT'); // a stopped (SIGSTOP) process handles TERM only once continued
  if (await waitFor(() => !isAlive(record), timeoutMs)) return 'stopped';
  signalGroup(record.pid, 'SIGKILL');
  await waitFor(() => !isAlive(record), 5_000);
  return 'killed';
}

export function removePidFile(file: string) {
  rmSync(file, { force: true });
}
