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
        events: { HEARTBEAT: 'heartbeat', GROUP_JOIN: 'join', CRASH: 'crash', REQUEST: 'request' },
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
    // One clock for both in these tests: a request's wall send time is its monotonic one.
    wall: now,
    log: silentLogger,
  });

type FakeConsumer = ReturnType<typeof fakeKafka>['consumers'][number];

/** kafkajs's order: the request's answer is reported (with its send time), then the heartbeat. */
function answeredHeartbeat(c: FakeConsumer, sentAt: number) {
  c.handlers.get('request')!({ payload: { apiName: 'Heartbeat', sentAt } });
  c.handlers.get('heartbeat')!({});
}

/** Lets the clock run in steps the loop-gap watch sees as a turning loop. */
function advance(c: ShardCoordinator, clock: { now: number }, to: number) {
  while (clock.now < to) {
    clock.now = Math.min(to, clock.now + 100);
    c.writesFenced();
  }
}

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
    const clock = { now: 0 };
    const c = coordinator(kafka, () => clock.now);
    expect(c.writesFenced()).toBe(true);
    answeredHeartbeat(consumers[0]!, 0);
    expect(c.writesFenced()).toBe(false);
    advance(c, clock, 1_400);
    expect(c.writesFenced()).toBe(false);
    advance(c, clock, 1_600);
    expect(c.writesFenced()).toBe(true);
  });

  it('measures the lease from when the heartbeat was sent, not from when its answer was read', () => {
    const { kafka, consumers } = fakeKafka();
    const clock = { now: 0 };
    const c = coordinator(kafka, () => clock.now);
    advance(c, clock, 1_000);
    // Sent at 1,000 ms, answered at 2,900 ms (it waited in the socket): the lease ends at 2,500 ms.
    advance(c, clock, 2_900);
    answeredHeartbeat(consumers[0]!, 1_000);
    expect(c.writesFenced()).toBe(true);
  });

  it('after a gap of the event loop stays fenced until a heartbeat sent after the gap is answered', () => {
    const { kafka, consumers } = fakeKafka();
    const clock = { now: 0 };
    const c = coordinator(kafka, () => clock.now);
    answeredHeartbeat(consumers[0]!, 0);
    advance(c, clock, 900);
    answeredHeartbeat(consumers[0]!, 900);
    // Stopped for 1.2 s: shorter than the lease, but a gap all the same.
    clock.now = 2_100;
    expect(c.writesFenced()).toBe(true);
    // The answer to a heartbeat sent before the gap, read after it, does not lift the fence.
    answeredHeartbeat(consumers[0]!, 900);
    expect(c.writesFenced()).toBe(true);
    advance(c, clock, 2_200);
    answeredHeartbeat(consumers[0]!, 2_150);
    expect(c.writesFenced()).toBe(false);
  });
});
