import { Kafka, type LogEntry, logLevel, Partitioners, type Producer } from 'kafkajs';
import { type Config, formatAddress } from '../common/config.js';
import type { Logger } from '../common/log.js';

/** kafkajs's log lines, as our structured JSON (warnings and errors only). */
const logCreator = (log: Logger) => () => (entry: LogEntry) => {
  const { message, ...fields } = entry.log;
  const write = entry.level <= logLevel.ERROR ? log.error : log.warn;
  write(`kafka: ${message}`, { namespace: entry.namespace, ...fields });
};

export function pipelineKafka(config: Config, clientId: string, log: Logger): Kafka {
  return new Kafka({
    clientId,
    brokers: [formatAddress(config.kafka)],
    logLevel: logLevel.WARN,
    logCreator: logCreator(log),
    connectionTimeout: 3_000,
    requestTimeout: 15_000,
    retry: { retries: 5, initialRetryTime: 200, maxRetryTime: 5_000 },
  });
}

/** Idempotent, acks=all: a retried send never duplicates within a producer session. */
export const reliableProducer = (kafka: Kafka): Producer =>
  kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
    // Java-compatible murmur2 on the key: a machine's records land on the same partition as
    // any other Kafka client would put them.
    createPartitioner: Partitioners.DefaultPartitioner,
  });
