/**
 * Log rotation for the stack's processes. Each writes its log by appending to a file it opened
 * once (O_APPEND), so a log is rotated by copy and truncate: the copy becomes `<name>.log.1`
 * (the previous `.1` becomes `.2`, the oldest is dropped), the live file is cut to zero, and the
 * process's next write lands at its new end. A few lines written between the copy and the cut
 * are lost from the copy; nothing a process writes after the cut is.
 */
import { copyFileSync, existsSync, readdirSync, renameSync, statSync, truncateSync } from 'node:fs';
import { join } from 'node:path';

export interface RotateOptions {
  /** A log larger than this is rotated. */
  maxBytes: number;
  /** Rotated copies kept per log. */
  keep: number;
}

export const DEFAULT_ROTATE: RotateOptions = { maxBytes: 64 * 1024 * 1024, keep: 2 };

/** Rotates every `*.log` in `dir` that outgrew the limit; returns the names it rotated. */
export function rotateLogs(dir: string, o: RotateOptions = DEFAULT_ROTATE): string[] {
  if (!existsSync(dir)) return [];
  const rotated: string[] = [];
  for (const name of readdirSync(dir)) {
    if (!name.endsWith('.log')) continue;
    const file = join(dir, name);
    let size: number;
    try {
      size = statSync(file).size;
    } catch {
      continue; // gone meanwhile
    }
    if (size <= o.maxBytes) continue;
    for (let k = o.keep - 1; k >= 1; k--) {
      if (existsSync(`${file}.${k}`)) renameSync(`${file}.${k}`, `${file}.${k + 1}`);
    }
    copyFileSync(file, `${file}.1`);
    truncateSync(file, 0);
    rotated.push(name);
  }
  return rotated;
}
