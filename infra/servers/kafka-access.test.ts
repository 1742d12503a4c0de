import { describe, expect, it } from 'vitest';
import { KAFKA_GRANTS, SERVICE_ROLES } from '../../common/service-roles.js';
import { GROUPS, TOPICS } from '../../common/topics.js';
import { kafkaAcls } from './kafka-access.js';

const READ = 3;
const WRITE = 4;
const TOPIC = 2;
const GROUP = 3;
const PREFIXED = 4;

/** The principals allowed `operation` on the resource, sorted. */
const who = (resourceType: number, name: string, operation: number) =>
  kafkaAcls()
    .filter((a) => a.resourceType === resourceType && a.resourceName === name && a.operation === operation)
    .map((a) => a.principal)
    .sort();

describe('Kafka grants', () => {
  it('lets only the bridge write readings, and only the operator and workflows send commands', () => {
    expect(who(TOPIC, TOPICS.telemetry, WRITE)).toEqual(['User:bridge']);
    expect(who(TOPIC, TOPICS.machineEvents, WRITE)).toEqual(['User:bridge']);
    expect(who(TOPIC, TOPICS.machineCommands, WRITE)).toEqual(['User:operator', 'User:workflows']);
    expect(who(TOPIC, TOPICS.alarms, WRITE)).toEqual(['User:analytics']);
  });

  it('gives each service consumer group to one role alone', () => {
    expect(who(GROUP, GROUPS.writer, READ)).toEqual(['User:writer']);
    expect(who(GROUP, GROUPS.analytics, READ)).toEqual(['User:analytics']);
    expect(who(GROUP, GROUPS.dispatcher, READ)).toEqual(['User:workflows']);
    expect(who(GROUP, GROUPS.workers, READ)).toEqual(['User:workers']);
    // No prefix grant may cover a service's group: a tool could join it and take its partitions.
    const prefixes = kafkaAcls().filter(
      (a) => a.resourceType === GROUP && a.resourcePatternType === PREFIXED,
    );
    for (const p of prefixes)
      for (const g of [GROUPS.writer, GROUPS.analytics, GROUPS.dispatcher, GROUPS.workers])
        expect(g.startsWith(p.resourceName), `${p.principal} ${p.resourceName}* covers ${g}`).toBe(false);
  });

  it('grants nothing to admin (a super user) and nothing on the cluster', () => {
    expect(kafkaAcls().some((a) => a.principal === 'User:admin')).toBe(false);
    expect(kafkaAcls().every((a) => a.resourceType === TOPIC || a.resourceType === GROUP)).toBe(true);
    expect(Object.keys(KAFKA_GRANTS).sort()).toEqual(SERVICE_ROLES.kafka.filter((r) => r !== 'admin').sort());
  });
});
