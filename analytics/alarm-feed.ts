/**
 * Alarm events as any consumer of the `alarms` topic sees them, from now on: for tools and
 * tests that watch what the processor announces (a group of their own, so they take nothing
 * from anyone). Resolves once the consumer has joined, so no event after the call is missed.
 */
import { randomUUID } from 'node:crypto';
import type { Consumer } from 'kafkajs';
import type { Config } from '../common/config.js';
import { silentLogger } from '../common/log.js';
import { GROUPS, TOPICS } from '../common/topics.js';
import { pipelineKafka } from '../pipeline/kafka.js';
import { type AlarmEvent, alarmEventSchema } from './events.js';

export type SeenAlarmEvent = AlarmEvent & { kafkaTs: number };

export async function followAlarmEvents(
  config: Config,
  name: string,
  onEvent: (e: SeenAlarmEvent) => void,
): Promise<Consumer> {
  const consumer = pipelineKafka(config, name, silentLogger, 'operator').consumer({
    groupId: `${GROUPS.operatorPrefix}${name}-${randomUUID()}`,
    maxWaitTimeInMs: 200,
  });
  await consumer.connect();
  await consumer.subscribe({ topic: TOPICS.alarms, fromBeginning: false });
  const joined = new Promise<void>((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve()));
  await consumer.run({
    eachMessage: async ({ message }) => {
      try {
        const e = alarmEventSchema.safeParse(JSON.parse(message.value?.toString() ?? ''));
        if (e.success) onEvent({ ...e.data, kafkaTs: Number(message.timestamp) });
      } catch {
        // not an alarm event: not ours to count
      }
    },
  });
  await joined;
  return consumer;
}
