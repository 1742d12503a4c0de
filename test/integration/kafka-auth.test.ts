import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { type Consumer, Kafka, type KafkaConfig, logLevel } from 'kafkajs';
import { afterAll, describe, expect, it } from 'vitest';
import { paths } from '../../common/config.js';
import { silentLogger } from '../../common/log.js';
import type { ServiceRole } from '../../common/service-roles.js';
import { GROUPS, TOPICS } from '../../common/topics.js';
import { kafkaLibDir } from '../../infra/install/kafka.js';
import { kafkaClient } from '../../infra/servers/kafka.js';
import { ensureScramAccounts, syncKafkaAcls } from '../../infra/servers/kafka-access.js';
import { pipelineKafka, reliableProducer } from '../../pipeline/kafka.js';
import { testConfig } from './stack-env.js';

/**
 * The broker takes only signed-in clients, and each service role only what it is granted:
 * before issue 18 any local process could STOP a machine by writing `machine-commands` or
 * starve InfluxDB by joining the writer's consumer group.
 */
const config = testConfig();
const broker = (extra: Partial<KafkaConfig>) =>
  new Kafka({
    clientId: 'kafka-auth-test',
    brokers: [`${config.kafka.host}:${config.kafka.port}`],
    logLevel: logLevel.NOTHING,
    connectionTimeout: 3_000,
    retry: { retries: 0 },
    ...extra,
  });
const opened: { disconnect: () => Promise<void> }[] = [];
afterAll(async () => {
  await Promise.all(opened.map((c) => c.disconnect().catch(() => {})));
});

/** What sending one record as `role` to `topic` comes to: 'ok' or the broker's error type. */
async function sendAs(role: ServiceRole, topic: string): Promise<string> {
  const producer = reliableProducer(pipelineKafka(config, `auth-test-${role}`, silentLogger, role));
  opened.push(producer);
  return producer
    .connect()
    .then(() =>
      producer.send({ topic, messages: [{ key: `auth-test-${randomUUID()}`, value: '{"probe":true}' }] }),
    )
    .then(
      () => 'ok',
      (err) => String((err as { type?: string }).type ?? (err as Error).message),
    );
}

/** The broker's error types in a kafkajs error and the errors it wraps. */
const errorTypes = (err: unknown, depth = 0): string[] => {
  if (!err || typeof err !== 'object' || depth > 4) return [];
  const e = err as { type?: unknown; cause?: unknown; originalError?: unknown };
  return [
    ...(typeof e.type === 'string' ? [e.type] : []),
    ...errorTypes(e.cause ?? e.originalError, depth + 1),
  ];
};

/** Whether `role` can join consumer group `groupId` on `topic`: 'joined' or the crash's error types. */
async function joinAs(role: ServiceRole, groupId: string, topic: string): Promise<string> {
  const consumer: Consumer = pipelineKafka(config, `auth-test-${role}`, silentLogger, role).consumer({
    groupId,
    retry: { retries: 0, restartOnFailure: async () => false },
  });
  opened.push(consumer);
  await consumer.connect();
  const outcome = new Promise<string>((resolve) => {
    consumer.on(consumer.events.GROUP_JOIN, () => resolve('joined'));
    consumer.on(consumer.events.CRASH, (e) => {
      const types = errorTypes(e.payload.error);
      resolve(types.length > 0 ? types.join(' ') : e.payload.error.message);
    });
  });
  await consumer.subscribe({ topic, fromBeginning: false });
  await consumer.run({ eachMessage: async () => {} });
  const result = await outcome;
  await consumer.disconnect();
  return result;
}

describe('Kafka authentication', () => {
  it('refuses a client that does not sign in', async () => {
    const admin = broker({}).admin();
    opened.push(admin);
    await expect(admin.connect().then(() => admin.listTopics())).rejects.toThrow();
  });

  it('refuses a wrong password, and PLAIN for any role but admin', async () => {
    const wrong = broker({
      sasl: { mechanism: 'scram-sha-512', username: 'bridge', password: 'not-the-password' },
    }).admin();
    opened.push(wrong);
    await expect(wrong.connect()).rejects.toThrow(/authentication failed/i);
    const bridge = JSON.parse(readFileSync(paths(config).credentials, 'utf8')).kafka.bridge;
    const plain = broker({ sasl: { mechanism: 'plain', ...bridge } }).admin();
    opened.push(plain);
    await expect(plain.connect()).rejects.toThrow(/authentication failed/i);
  });
});

describe('Kafka grants: each role only its own', () => {
  it('the bridge writes telemetry but never a command', async () => {
    expect(await sendAs('bridge', TOPICS.telemetryDlq)).toBe('ok');
    expect(await sendAs('bridge', TOPICS.machineCommands)).toMatch(
      /TOPIC_AUTHORIZATION_FAILED|Not authorized/,
    );
    expect(await sendAs('bridge', TOPICS.alarms)).toMatch(/TOPIC_AUTHORIZATION_FAILED|Not authorized/);
  });

  it('the operator sends commands but cannot forge readings or alarms', async () => {
    expect(await sendAs('operator', TOPICS.machineCommands)).toBe('ok');
    expect(await sendAs('operator', TOPICS.telemetry)).toMatch(/TOPIC_AUTHORIZATION_FAILED|Not authorized/);
    expect(await sendAs('operator', TOPICS.alarms)).toMatch(/TOPIC_AUTHORIZATION_FAILED|Not authorized/);
  });

  it('no role joins another role’s consumer group, and tools only their own prefix', async () => {
    // A role may not even look up another's group (kafkajs then drops the broker's
    // GROUP_AUTHORIZATION_FAILED and says only that no coordinator was found; the last case
    // shows that a permitted group's coordinator is found).
    const refused = /GROUP_AUTHORIZATION_FAILED|Failed to find group coordinator/;
    expect(await joinAs('operator', GROUPS.writer, TOPICS.telemetry)).toMatch(refused);
    expect(await joinAs('writer', GROUPS.analytics, TOPICS.telemetry)).toMatch(refused);
    expect(await joinAs('operator', `${GROUPS.operatorPrefix}auth-test-${randomUUID()}`, TOPICS.alarms)).toBe(
      'joined',
    );
  });
});

describe('Kafka accounts and grants are kept as the table says', () => {
  it('a grant added by hand to a role is removed by the next provision', async () => {
    const admin = kafkaClient(config, 'auth-test', 'admin').admin();
    opened.push(admin);
    await admin.connect();
    const { AclOperationTypes, AclPermissionTypes, AclResourceTypes, ResourcePatternTypes } = await import(
      'kafkajs'
    );
    await admin.createAcls({
      acl: [
        {
          resourceType: AclResourceTypes.TOPIC,
          resourceName: TOPICS.machineCommands,
          resourcePatternType: ResourcePatternTypes.LITERAL,
          principal: 'User:bridge',
          host: '*',
          operation: AclOperationTypes.WRITE,
          permissionType: AclPermissionTypes.ALLOW,
        },
      ],
    });
    expect(await sendAs('bridge', TOPICS.machineCommands)).toBe('ok');
    expect(await syncKafkaAcls(admin)).toEqual({ created: 0, deleted: 1 });
    expect(await sendAs('bridge', TOPICS.machineCommands)).toMatch(
      /TOPIC_AUTHORIZATION_FAILED|Not authorized/,
    );
    expect(await syncKafkaAcls(admin)).toEqual({ created: 0, deleted: 0 });
  });

  it('a password changed in credentials.json is taken by the broker at the next provision', async () => {
    const file = paths(config).credentials;
    const before = readFileSync(file, 'utf8');
    const creds = JSON.parse(before);
    const old = creds.kafka.operator.password;
    creds.kafka.operator.password = `rotated-${randomUUID()}`;
    try {
      writeFileSync(file, JSON.stringify(creds));
      expect(await sendAs('operator', TOPICS.machineCommands)).not.toBe('ok');
      expect(await ensureScramAccounts(config, kafkaLibDir(config.cacheDir))).toEqual(['operator']);
      expect(await sendAs('operator', TOPICS.machineCommands)).toBe('ok');
      const stale = broker({
        sasl: { mechanism: 'scram-sha-512', username: 'operator', password: old },
      }).admin();
      opened.push(stale);
      await expect(stale.connect()).rejects.toThrow(/authentication failed/i);
    } finally {
      writeFileSync(file, before);
      await ensureScramAccounts(config, kafkaLibDir(config.cacheDir));
    }
  });
});
