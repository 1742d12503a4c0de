import { afterEach, describe, expect, it, vi } from 'vitest';
import { consoleOutput } from './output.js';

/** A stream off a terminal that keeps what was written. */
function plainStream() {
  const written: string[] = [];
  const stream = { isTTY: false, write: (s: string) => written.push(s) > 0 } as unknown as NodeJS.WriteStream;
  return { stream, written };
}

describe('progress off a terminal', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('prints a new message at once and a repeat whose times alone changed only every 15 s', () => {
    vi.useFakeTimers();
    const { stream, written } = plainStream();
    const out = consoleOutput(stream);
    for (let s = 0; s < 40; s++) {
      out.progress(`${Math.floor(s / 60)}m${s % 60}s of 5m · 0 alarms raised · last: waiting`);
      vi.advanceTimersByTime(1000);
    }
    // At 0 s, 15 s and 30 s: not 40 lines.
    expect(written).toHaveLength(3);
    out.progress('0m41s of 5m · 0 alarms raised · last: overheat on M-0001');
    out.progress('waiting for worker-1 (2.5s)');
    out.progress('waiting for worker-2 (2.6s)');
    expect(written.slice(3)).toEqual([
      '  … 0m41s of 5m · 0 alarms raised · last: overheat on M-0001\n',
      '  … waiting for worker-1 (2.5s)\n',
      '  … waiting for worker-2 (2.6s)\n',
    ]);
  });
});
