/**
 * Who may do what on Kafka and NATS. Every process signs in as the role it plays, and each
 * role is granted only what that role does; everything else is refused by the server (deny by
 * default). `admin` is the embedded stack's own account: `factory up` provisions with it, and
 * the broker uses it for itself.
 */
import { GROUPS, TOPICS } from './topics.js';

export type ServiceRole = 'admin' | 'bridge' | 'writer' | 'analytics' | 'workers' | 'workflows' | 'operator';

/** The roles with an account on each server (the writer never talks to NATS). */
export const SERVICE_ROLES = {
  kafka: ['admin', 'bridge', 'writer', 'analytics', 'workers', 'workflows', 'operator'],
  nats: ['admin', 'bridge', 'analytics', 'workers', 'workflows', 'operator'],
} as const satisfies Record<string, readonly ServiceRole[]>;

export type KafkaOperation = 'READ' | 'WRITE';

/** One allow rule: an operation on a topic or consumer group, named exactly or by prefix. */
export interface KafkaGrant {
  resource: 'topic' | 'group';
  name: string;
  prefixed?: boolean;
  operations: KafkaOperation[];
}

const read = (...topics: string[]): KafkaGrant[] =>
  topics.map((name) => ({ resource: 'topic', name, operations: ['READ'] }));
const write = (...topics: string[]): KafkaGrant[] =>
  topics.map((name) => ({ resource: 'topic', name, operations: ['WRITE'] }));
const group = (name: string, prefixed = false): KafkaGrant => ({
  resource: 'group',
  name,
  prefixed,
  operations: ['READ'],
});

/**
 * Kafka's grants per role. READ and WRITE imply DESCRIBE of the same resource (a stage's own
 * lag: its group's offsets and its topics' ends), and WRITE on
 * any topic allows an idempotent producer (KIP-679). Every stage that refuses input
 * dead-letters it, so every stage may write `telemetry.dlq`.
 */
export const KAFKA_GRANTS: Record<Exclude<ServiceRole, 'admin'>, KafkaGrant[]> = {
  bridge: write(TOPICS.telemetry, TOPICS.machineEvents, TOPICS.telemetryDlq),
  writer: [
    ...read(TOPICS.telemetry, TOPICS.machineEvents, TOPICS.alarms),
    ...write(TOPICS.telemetryDlq),
    group(GROUPS.writer),
  ],
  analytics: [
    ...read(TOPICS.telemetry, TOPICS.alarmCommands, TOPICS.machineEvents, TOPICS.alarms),
    ...write(TOPICS.alarms, TOPICS.telemetryDlq),
    group(GROUPS.analytics),
    group(GROUPS.analyticsEventsPrefix, true),
  ],
  workers: [...read(TOPICS.machineCommands), ...write(TOPICS.telemetryDlq), group(GROUPS.workers)],
  workflows: [
    ...read(TOPICS.alarms),
    ...write(TOPICS.machineCommands, TOPICS.alarmCommands, TOPICS.telemetryDlq),
    group(GROUPS.dispatcher),
  ],
  // The web server and the CLI's commands: send commands, follow alarms, verify readings.
  operator: [
    ...write(TOPICS.machineCommands, TOPICS.alarmCommands),
    ...read(TOPICS.telemetry, TOPICS.alarms),
    group(GROUPS.operatorPrefix, true),
  ],
};
