import type { Admin } from 'kafkajs';
import { lagGrowing } from './flow.js';

/**
 * A consumer group's lag as Kafka sees it (end offsets minus committed offsets), sampled every
 * few seconds: unlike a per-batch figure it keeps moving when the consumer is stuck and fetches
 * nothing. Shared by every stage that consumes (writer, analytics).
 */
export class GroupLag {
  private readonly samples: { at: number; lag: number }[] = [];

  constructor(
    private readonly admin: Admin,
    private readonly groupId: string,
    private readonly topics: string[],
  ) {}

  /** The latest sample (0 before the first). */
  get current(): number {
    return this.samples.at(-1)?.lag ?? 0;
  }

  async probe(now = Date.now()): Promise<number> {
    const [committed, ...ends] = await Promise.all([
      this.admin.fetchOffsets({ groupId: this.groupId, topics: this.topics }),
      ...this.topics.map((t) => this.admin.fetchTopicOffsets(t)),
    ]);
    let lag = 0;
    for (const [i, topic] of this.topics.entries()) {
      const done = committed.find((c) => c.topic === topic)?.partitions ?? [];
      for (const p of ends[i]!) {
        const at = done.find((d) => d.partition === p.partition)?.offset ?? '-1';
        lag += Number(BigInt(p.high) - (at === '-1' ? BigInt(p.low) : BigInt(at)));
      }
    }
    this.samples.push({ at: now, lag });
    while (this.samples.length > 0 && now - this.samples[0]!.at > 120_000) this.samples.shift();
    return lag;
  }

  /** Lag only rose over the window: the group is falling behind (see lagGrowing). */
  growing(windowMs: number, now = Date.now()): boolean {
    return lagGrowing(this.samples, windowMs, now);
  }
}
