/**
 * The embedded broker's accounts and grants: SCRAM credentials for every service role and
 * exactly the ACLs of common/service-roles.ts, kept so by every start (`provision`).
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import kafkajs, { type AclEntry, type Admin, Kafka, logLevel } from 'kafkajs';
import { type Config, formatAddress, projectRoot } from '../../common/config.js';
import { readCredentials } from '../../common/credentials.js';
import { KAFKA_GRANTS, SERVICE_ROLES, type ServiceRole } from '../../common/service-roles.js';
import { kafkaSasl } from '../../pipeline/kafka.js';

// kafkajs is CommonJS and Node's loader does not see its enums as named exports.
const { AclOperationTypes, AclPermissionTypes, AclResourceTypes, ResourcePatternTypes } = kafkajs;

/** A client of the embedded broker for the stack's own tools: health, provisioning, tests. */
export const kafkaClient = (config: Config, clientId: string, role: ServiceRole) =>
  new Kafka({
    clientId,
    brokers: [formatAddress(config.kafka)],
    sasl: kafkaSasl(config, role),
    logLevel: logLevel.NOTHING,
    connectionTimeout: 3_000,
    requestTimeout: 10_000,
    retry: { retries: 2, initialRetryTime: 200 },
  });

const ROLES = SERVICE_ROLES.kafka.filter((r): r is Exclude<ServiceRole, 'admin'> => r !== 'admin');

/** Every allow rule of every role, as the broker stores them. */
export function kafkaAcls(): AclEntry[] {
  return ROLES.flatMap((role) =>
    KAFKA_GRANTS[role].flatMap((g) =>
      g.operations.map((op) => ({
        resourceType: g.resource === 'topic' ? AclResourceTypes.TOPIC : AclResourceTypes.GROUP,
        resourceName: g.name,
        resourcePatternType: g.prefixed ? ResourcePatternTypes.PREFIXED : ResourcePatternTypes.LITERAL,
        principal: `User:${role}`,
        host: '*',
        operation: AclOperationTypes[op],
        permissionType: AclPermissionTypes.ALLOW,
      })),
    ),
  );
}

const aclKey = (a: AclEntry) =>
  [
    a.principal,
    a.resourceType,
    a.resourcePatternType,
    a.resourceName,
    a.host,
    a.operation,
    a.permissionType,
  ].join('|');

/**
 * Makes the broker's ACLs of our roles exactly `kafkaAcls()`: missing ones are created, any
 * other rule naming one of our principals is deleted (a grant removed from the table must not
 * linger). Rules of other principals (an operator's own users) are left alone.
 */
export async function syncKafkaAcls(admin: Admin): Promise<{ created: number; deleted: number }> {
  const desired = kafkaAcls();
  const wanted = new Set(desired.map(aclKey));
  const ours = new Set(ROLES.map((r) => `User:${r}`));
  const { resources } = await admin.describeAcls({
    resourceType: AclResourceTypes.ANY,
    resourcePatternType: ResourcePatternTypes.ANY,
    operation: AclOperationTypes.ANY,
    permissionType: AclPermissionTypes.ANY,
  });
  const existing = resources.flatMap(({ acls, ...resource }) => acls.map((a) => ({ ...resource, ...a })));
  const have = new Set(existing.map(aclKey));
  const stale = existing.filter((a) => ours.has(a.principal) && !wanted.has(aclKey(a)));
  const missing = desired.filter((a) => !have.has(aclKey(a)));
  if (stale.length > 0) await admin.deleteAcls({ filters: stale });
  if (missing.length > 0) await admin.createAcls({ acl: missing });
  return { created: missing.length, deleted: stale.length };
}

/** The roles whose SCRAM sign-in the broker refuses (missing or changed credentials). */
async function refusedRoles(config: Config): Promise<string[]> {
  const refused: string[] = [];
  for (const role of ROLES) {
    // A refused sign-in is not retried (kafkajs: non-retriable), whatever the client's retries.
    const admin = kafkaClient(config, 'factory-provision', role).admin();
    try {
      await admin.connect();
    } catch (err) {
      if ((err as Error).name !== 'KafkaJSSASLAuthenticationError') throw err;
      refused.push(role);
    } finally {
      await admin.disconnect();
    }
  }
  return refused;
}

/**
 * Every role can sign in: a new data directory, one formatted before accounts existed (an
 * upgrade), or a password changed in credentials.json gets its credentials upserted through the
 * broker's own Admin client (kafkajs has no call for it), the passwords on its standard input,
 * never in arguments that `ps` shows. Returns the roles that had to be (re)created.
 */
export async function ensureScramAccounts(config: Config, kafkaLib: string): Promise<string[]> {
  const refused = await refusedRoles(config);
  if (refused.length === 0) return [];
  const creds = readCredentials(config);
  const admin = creds.kafka?.admin;
  if (!admin) throw new Error('No Kafka admin account: run "factory up" to generate it.');
  const lines = [admin, ...refused.map((r) => creds.kafka![r]!)].map((a) => `${a.username} ${a.password}`);
  await new Promise<void>((resolve, reject) => {
    const child = execFile(
      'java',
      [
        '-Xmx128m',
        `-Dlog4j.configuration=file:${join(projectRoot, 'infra', 'kafka', 'log4j-quiet.properties')}`,
        '-cp',
        `${kafkaLib}/*`,
        join(projectRoot, 'infra', 'kafka', 'ScramUsers.java'),
        formatAddress(config.kafka),
      ],
      { timeout: 120_000 },
      (err, _stdout, stderr) =>
        err
          ? reject(new Error(`creating Kafka's SCRAM accounts failed: ${stderr.trim() || err.message}`))
          : resolve(),
    );
    child.stdin?.end(`${lines.join('\n')}\n`);
  });
  return refused;
}
