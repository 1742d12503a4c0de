import { Kafka, type LogEntry, logLevel, Partitioners, type Producer, type SASLOptions } from 'kafkajs';
import { type Config, formatAddress } from '../common/config.js';
import { serviceAccount } from '../common/credentials.js';
import type { Logger } from '../common/log.js';
import type { ServiceRole } from '../common/service-roles.js';

/**
 * How a role signs in to Kafka: SCRAM-SHA-512 (the password never crosses the wire), except
 * `admin`, which the broker knows from its own configuration (PLAIN) so that it exists before
 * any SCRAM credential does (infra/servers/kafka.ts).
 */
export function kafkaSasl(config: Config, role: ServiceRole): SASLOptions {
  const { username, password } = serviceAccount(config, 'kafka', role);
  return role === 'admin'
    ? { mechanism: 'plain', username, password }
    : { mechanism: 'scram-sha-512', username, password };
}

/** kafkajs's log lines, as our structured JSON (warnings and errors only). */
const logCreator = (log: Logger) => () => (entry: LogEntry) => {
  const { message, ...fields } = entry.log;
  const write = entry.level <= logLevel.ERROR ? log.error : log.warn;
  write(`kafka: ${message}`, { namespace: entry.namespace, ...fields });
};

/** A Kafka client of a service role: it may do only what KAFKA_GRANTS give that role. */
export function pipelineKafka(config: Config, clientId: string, log: Logger, role: ServiceRole): Kafka {
  return new Kafka({
    clientId,
    brokers: [formatAddress(config.kafka)],
    sasl: kafkaSasl(config, role),
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
