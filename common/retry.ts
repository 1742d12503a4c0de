/** One retry policy for every process: exponential backoff with full jitter, capped. */
export interface Backoff {
  minMs: number;
  maxMs: number;
}

export const DEFAULT_BACKOFF: Backoff = { minMs: 200, maxMs: 5_000 };

export function backoffDelay(attempt: number, b: Backoff = DEFAULT_BACKOFF, random = Math.random): number {
  const ceiling = Math.min(b.maxMs, b.minMs * 2 ** Math.min(attempt, 30));
  return Math.round(b.minMs / 2 + random() * (ceiling - b.minMs / 2));
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Runs `work` until it succeeds or `keepGoing` says stop, sleeping with backoff in between.
 * Each failure is reported (for counters and logs); the last error is thrown when stopped.
 */
export async function retryUntil<T>(
  work: () => Promise<T>,
  opts: {
    keepGoing: () => boolean;
    onRetry: (err: Error, attempt: number, delayMs: number) => void | Promise<void>;
    backoff?: Backoff;
  },
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await work();
    } catch (err) {
      if (!opts.keepGoing()) throw err;
      const delay = backoffDelay(attempt, opts.backoff);
      await opts.onRetry(err as Error, attempt, delay);
      await sleep(delay);
      if (!opts.keepGoing()) throw err;
    }
  }
}
