import type { Config } from './config.js';

/** Kafka topics of the contract, with their partition counts and retention. */
export const TOPICS = {
  telemetry: 'telemetry',
  telemetryDlq: 'telemetry.dlq',
  alarms: 'alarms',
  machineCommands: 'machine-commands',
  /** Not in the contract's list: machine lifecycle events (epoch changes and the seq gaps they explain). */
  machineEvents: 'machine-events',
  /** Acknowledge / shelve / unshelve for the alarm owner (analytics); co-partitioned with telemetry. */
  alarmCommands: 'alarm-commands',
} as const;

const DAY_MS = 24 * 3600 * 1000;

export function topicSpecs(config: Config) {
  return [
    { topic: TOPICS.telemetry, numPartitions: config.partitions.telemetry, retentionMs: 7 * DAY_MS },
    { topic: TOPICS.telemetryDlq, numPartitions: 3, retentionMs: 30 * DAY_MS },
    { topic: TOPICS.alarms, numPartitions: 6, retentionMs: 90 * DAY_MS },
    { topic: TOPICS.machineEvents, numPartitions: 3, retentionMs: 90 * DAY_MS },
    // As many partitions as telemetry: a machine's commands land on the partition number its
    // readings do, so the analytics instance that owns the machine's alarms receives both.
    {
      topic: TOPICS.alarmCommands,
      numPartitions: config.partitions.telemetry,
      retentionMs: 7 * DAY_MS,
    },
    // Its partitions are the shards: a worker owns the actors whose commands land on its partitions.
    { topic: TOPICS.machineCommands, numPartitions: config.partitions.commands, retentionMs: 7 * DAY_MS },
  ];
}

/**
 * Kafka consumer groups. Each belongs to one service role (common/service-roles.ts grants it);
 * tools' groups are per run and start with `operator.`, so no tool can join a service's group.
 */
export const GROUPS = {
  writer: 'influx-writer',
  analytics: 'analytics',
  /** Each analytics instance reads every machine event and alarm under a group of its own. */
  analyticsEventsPrefix: 'analytics-events.',
  dispatcher: 'alarm-dispatcher',
  workers: 'factory-workers',
  operatorPrefix: 'operator.',
} as const;
