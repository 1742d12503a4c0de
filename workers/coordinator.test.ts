import type { Kafka } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../common/log.js';
import { waitFor } from '../infra/supervisor/process.js';
import { ShardCoordinator } from './coordinator.js';

/** A kafkajs stand-in: consumers that record their lifecycle and let a test fire their events. */
function fakeKafka(failRuns = 0) {
  const consumers: { handlers: Map<string, (e: unknown) => void>; runs: number; disconnected: boolean }[] =
    [];
  let runsToFail = failRuns;
  const kafka = {
    consumer: () => {
      const c = { handlers: new Map<string, (e: unknown) => void>(), runs: 0, disconnected: false };
      consumers.push(c);
      return {
        events: { HEARTBEAT: 'heartbeat', GROUP_JOIN: 'join', CRASH: 'crash' },
        on: (event: string, fn: (e: unknown) => void) => c.handlers.set(event, fn),
        connect: async () => {
          if (consumers.length > 1 && runsToFail-- > 0) throw new Error('Kafka still down');
        },
        subscribe: async () => {},
        run: async () => {
          c.runs++;
        },
        disconnect: async () => {
          c.disconnected = true;
        },
      };
    },
  } as unknown as Kafka;
  return { kafka, consumers };
}

const coordinator = (kafka: Kafka, now?: () => number) =>
  new ShardCoordinator({
    kafka,
    sessionTimeoutMs: 3_000,
    heartbeatIntervalMs: 500,
    fenceAfterMs: 1_500,
    onAssign: async () => {},
    onRecord: async () => {},
    now,
    log: silentLogger,
  });

describe('ShardCoordinator', () => {
  it('replaces a consumer kafkajs gave up on, retrying until Kafka takes it', async () => {
    const { kafka, consumers } = fakeKafka(1);
    const c = coordinator(kafka);
    await c.start();
    expect(consumers).toHaveLength(1);
    consumers[0]!.handlers.get('crash')!({
      payload: { error: new Error('Failed to find group coordinator'), restart: false },
    });
    // The first replacement finds Kafka still down; the next one runs.
    expect(await waitFor(() => consumers.some((x, i) => i > 0 && x.runs === 1), 10_000, 50)).toBe(true);
    expect(consumers[0]!.disconnected).toBe(true);
    await c.stop();
  }, 15_000);

  it('leaves a crash kafkajs restarts by itself alone', async () => {
    const { kafka, consumers } = fakeKafka();
    const c = coordinator(kafka);
    await c.start();
    consumers[0]!.handlers.get('crash')!({
      payload: { error: new Error('retries exceeded'), restart: true },
    });
    await new Promise((r) => setTimeout(r, 800));
    expect(consumers).toHaveLength(1);
    await c.stop();
  });

  it('is fenced until a heartbeat or a join proves membership, and again after half a session', async () => {
    const { kafka, consumers } = fakeKafka();
    let now = 0;
    const c = coordinator(kafka, () => now);
    expect(c.writesFenced()).toBe(true);
    consumers[0]!.handlers.get('heartbeat')!({});
    expect(c.writesFenced()).toBe(false);
    now = 1_400;
    expect(c.writesFenced()).toBe(false);
    now = 1_600;
    expect(c.writesFenced()).toBe(true);
  });
});
