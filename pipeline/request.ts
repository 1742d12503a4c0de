/**
 * The path of every command to a partition owner: one record on a Kafka topic (key = the
 * machine), answered over NATS by whichever process owns the key's partition, wherever it runs.
 * Machine commands go to workers, alarm commands to analytics; the CLI and the workflows' activities
 * both send them here.
 */
import type { Producer } from 'kafkajs';
import type { NatsConnection } from 'nats';

/**
 * Sends one record and waits for its answer on `replyTo`, subscribed first (so an answer faster
 * than the send is not missed). Undefined when nobody answered in time; a failed send throws.
 */
export async function requestOverKafka<T>(
  nc: NatsConnection,
  producer: Producer,
  send: { topic: string; key: string; record: object; replyTo: string },
  parse: (raw: unknown) => T | undefined,
  timeoutMs: number,
): Promise<T | undefined> {
  const sub = nc.subscribe(send.replyTo, { max: 1, timeout: timeoutMs });
  try {
    await producer.send({
      topic: send.topic,
      acks: -1,
      messages: [{ key: send.key, value: JSON.stringify(send.record) }],
    });
  } catch (err) {
    sub.unsubscribe();
    throw err;
  }
  try {
    for await (const msg of sub) {
      const answer = parse(msg.json());
      if (answer !== undefined) return answer;
    }
  } catch {
    // the subscription's timeout
  }
  return undefined;
}
