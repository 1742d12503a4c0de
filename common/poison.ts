/**
 * One poison policy for every stage (bridge, writer, analytics, dispatcher, workers' command
 * consumer): an error is either transient (a server down or slow, a rebalance) and retried with
 * backoff for as long as the stage runs, or permanent for the record that caused it (a refusal
 * by schema, domain or server) and then the record is isolated by splitting its batch, copied to
 * the dead-letter topic with its reason, and passed. One bad record never stops a stage, and no
 * stage retries a permanent error more than the halvings of one batch.
 */
import { createHash } from 'node:crypto';
import type { Message, Producer } from 'kafkajs';
import type { Logger } from './log.js';
import { type Backoff, backoffDelay, retryUntil, sleep } from './retry.js';
import type { Metrics } from './runtime.js';
import { TOPICS } from './topics.js';

/** The most of a dead-lettered payload kept: larger ones are cut, with their size and hash. */
export const DEAD_LETTER_MAX_BYTES = 16 * 1024;
/** The most of a reason kept in a header (a server's message can be long). */
const REASON_MAX_CHARS = 1024;

/**
 * Why a record was refused, as a short code for counters (`deadLettered:<code>`): low
 * cardinality, stable, the same across stages. The free-text reason travels beside it.
 */
export type PoisonCode =
  | 'oversized'
  | 'not-json'
  | 'schema'
  | 'too-old'
  | 'future'
  | 'topic-mismatch'
  | 'not-in-fleet'
  | 'skip-range'
  | 'wrong-shard'
  | 'refused-by-model'
  | 'refused-by-kafka'
  | 'refused-by-influxdb'
  | 'refused-by-temporal';

export type ErrorClass = { kind: 'transient' } | { kind: 'permanent'; code: PoisonCode; reason: string };

const TRANSIENT: ErrorClass = { kind: 'transient' };

/** Kafka error types a broker gives for a record it will never take, however often it is sent. */
const KAFKA_PERMANENT = new Set([
  'MESSAGE_TOO_LARGE',
  'RECORD_LIST_TOO_LARGE',
  'INVALID_RECORD',
  'CORRUPT_MESSAGE',
  'INVALID_TIMESTAMP',
]);

/** kafkajs wraps the broker's error (retry exhausted, aggregate of partitions): look inside. */
function kafkaTypes(err: unknown, depth = 0): string[] {
  if (!err || typeof err !== 'object' || depth > 4) return [];
  const e = err as { type?: unknown; cause?: unknown; originalError?: unknown; errors?: unknown };
  const own = typeof e.type === 'string' ? [e.type] : [];
  const nested = [e.cause, e.originalError, ...(Array.isArray(e.errors) ? e.errors : [])];
  return [...own, ...nested.flatMap((x) => kafkaTypes(x, depth + 1))];
}

export function classifyKafka(err: unknown): ErrorClass {
  const permanent = kafkaTypes(err).find((t) => KAFKA_PERMANENT.has(t));
  return permanent
    ? { kind: 'permanent', code: 'refused-by-kafka', reason: `Kafka refused the record: ${permanent}` }
    : TRANSIENT;
}

/**
 * InfluxDB 1.x answers 400 for points it will not store (beyond the retention policy, a field
 * type conflict, a line it cannot parse) and 413 for a body too large. Everything else (no
 * answer, 5xx, a missing database, refused credentials) is the server's state, not the data's.
 */
export function classifyInflux(err: unknown): ErrorClass {
  const e = err as { res?: { statusCode?: number }; statusCode?: number; message?: string };
  const status = e?.res?.statusCode ?? e?.statusCode;
  // The client's own schema check (node-influx) refuses a point before sending it.
  const clientRefusal =
    status === undefined && /^(Expected .* value|Extraneous (fields|tags))/.test(e?.message ?? '');
  if (status === 400 || status === 413 || clientRefusal)
    return {
      kind: 'permanent',
      code: 'refused-by-influxdb',
      reason: `InfluxDB refused the points (${status ?? 'client schema'}): ${String(e.message ?? '').slice(0, 300)}`,
    };
  return TRANSIENT;
}

/** gRPC codes Temporal answers for a request that will never succeed as sent. */
const GRPC_INVALID_ARGUMENT = 3;
const GRPC_FAILED_PRECONDITION = 9;
const GRPC_OUT_OF_RANGE = 11;

export function classifyTemporal(err: unknown): ErrorClass {
  let e: unknown = err;
  for (let depth = 0; e && typeof e === 'object' && depth < 4; depth++) {
    const code = (e as { code?: unknown }).code;
    if (code === GRPC_INVALID_ARGUMENT || code === GRPC_FAILED_PRECONDITION || code === GRPC_OUT_OF_RANGE)
      return {
        kind: 'permanent',
        code: 'refused-by-temporal',
        reason: `Temporal refused the request: ${String((e as Error).message ?? '').slice(0, 300)}`,
      };
    e = (e as { cause?: unknown }).cause;
  }
  return TRANSIENT;
}

/**
 * The dead-letter copy of a record: at most 16 KiB of its payload, with its original size and
 * sha256 (so a cut copy can still be matched to the original), the stage, the source and the
 * reason in headers. Bounded, so that the copy can never be what the dead-letter topic refuses.
 */
export function deadLetterMessage(d: {
  key: string;
  raw: Buffer | string | null;
  code: PoisonCode;
  reason: string;
  stage: string;
  source: string;
  now: number;
}): Message {
  const raw = d.raw === null ? Buffer.alloc(0) : Buffer.isBuffer(d.raw) ? d.raw : Buffer.from(d.raw);
  const cut = raw.length > DEAD_LETTER_MAX_BYTES;
  return {
    key: d.key.slice(0, 256),
    value: cut ? raw.subarray(0, DEAD_LETTER_MAX_BYTES) : raw,
    headers: {
      reason: d.reason.slice(0, REASON_MAX_CHARS),
      code: d.code,
      stage: d.stage,
      source: d.source.slice(0, 512),
      receivedAt: String(d.now),
      originalBytes: String(raw.length),
      sha256: createHash('sha256').update(raw).digest('hex'),
      truncated: String(cut),
    },
  };
}

export interface IsolateOptions<T> {
  /** Writes a batch as a whole (all or nothing as far as we know). */
  write: (batch: T[]) => Promise<void>;
  classify: (err: unknown) => ErrorClass;
  /** A record that failed on its own with a permanent error. */
  onPoison: (item: T, failure: Extract<ErrorClass, { kind: 'permanent' }>) => void | Promise<void>;
  /** False when the stage is stopping (or lost the batch to a rebalance): the error is thrown. */
  keepGoing: () => boolean;
  onRetry: (err: Error, attempt: number, delayMs: number) => void | Promise<void>;
  backoff?: Backoff;
}

/**
 * Writes `items`, retrying transient errors with backoff, and isolating the records behind a
 * permanent one by halving: the good ones are written (a rewrite of an idempotent write is
 * harmless), each bad one is handed to `onPoison`. A record meets at most log2(n) + 1 permanent
 * failures, so a batch of 5,000 with one poison costs about 13 extra requests.
 */
export async function writeIsolating<T>(items: T[], o: IsolateOptions<T>): Promise<void> {
  if (items.length === 0) return;
  for (let attempt = 0; ; attempt++) {
    try {
      await o.write(items);
      return;
    } catch (err) {
      const c = o.classify(err);
      if (c.kind === 'permanent') {
        if (items.length === 1) return o.onPoison(items[0]!, c);
        const half = Math.ceil(items.length / 2);
        await writeIsolating(items.slice(0, half), o);
        await writeIsolating(items.slice(half), o);
        return;
      }
      if (!o.keepGoing()) throw err;
      const delay = backoffDelay(attempt, o.backoff);
      await o.onRetry(err as Error, attempt, delay);
      await sleep(delay);
      if (!o.keepGoing()) throw err;
    }
  }
}

/** At most this many dead-letter log lines per window and stage; the rest are counted. */
const LOG_BURST = 10;
const LOG_WINDOW_MS = 10_000;

/**
 * A stage's dead letters: each refused record is counted (`deadLettered` and
 * `deadLettered:<code>`), logged (at most 10 lines per 10 s: a device flooding junk must not
 * flood the log), and turned into its bounded copy, which the stage sends with `send` before it
 * commits the batch that held the record.
 */
export class DeadLetters {
  private window = { start: 0, logged: 0, suppressed: 0 };

  constructor(
    private readonly o: {
      stage: string;
      producer: () => Producer;
      metrics: Metrics;
      log: Logger;
      clock?: () => number;
    },
  ) {}

  refuse(d: {
    key: string;
    raw: Buffer | string | null;
    code: PoisonCode;
    reason: string;
    source: string;
  }): Message {
    const now = (this.o.clock ?? Date.now)();
    this.o.metrics.inc('deadLettered');
    this.o.metrics.inc(`deadLettered:${d.code}`);
    this.logLimited(now, d);
    return deadLetterMessage({ ...d, stage: this.o.stage, now });
  }

  private logLimited(now: number, d: { key: string; code: PoisonCode; reason: string; source: string }) {
    if (now - this.window.start >= LOG_WINDOW_MS) {
      if (this.window.suppressed > 0)
        this.o.log.warn('dead-lettered more records than logged', {
          stage: this.o.stage,
          suppressed: this.window.suppressed,
          windowMs: LOG_WINDOW_MS,
        });
      this.window = { start: now, logged: 0, suppressed: 0 };
    }
    if (this.window.logged++ < LOG_BURST)
      this.o.log.warn('dead-lettered', {
        stage: this.o.stage,
        key: d.key.slice(0, 100),
        code: d.code,
        reason: d.reason.slice(0, 300),
        source: d.source.slice(0, 200),
      });
    else this.window.suppressed++;
  }

  /** Sends the copies; retried while `keepGoing` (a dead letter is never dropped silently). */
  async send(
    messages: Message[],
    keepGoing: () => boolean,
    onRetry: (err: Error, attempt: number, delayMs: number) => void | Promise<void>,
  ): Promise<void> {
    if (messages.length === 0) return;
    await retryUntil(() => this.o.producer().send({ topic: TOPICS.telemetryDlq, acks: -1, messages }), {
      keepGoing,
      onRetry,
    });
  }
}
