/**
 * Who may do what on NATS: one user per service role (credentials.json `nats`), each allowed only
 * the subjects its code uses; the server refuses everything else (deny by default). `admin`
 * (`factory up`, health checks, tests, benchmarks) has no limits: it alone creates, changes and
 * deletes streams, and writes the fleet registry.
 *
 * What nats.js 2.x sends for a bucket opened by bindBucket (common/kv.ts), seen in the server's
 * trace:
 * - `$JS.API.INFO` once per JetStream context (jetstreamManager checks that JetStream is on);
 * - a get: `$JS.API.DIRECT.GET.KV_<b>.$KV.<b>.<key>` (the key in the subject);
 * - the newest sequence under a key (common/kv.ts, before a watch): `$JS.API.STREAM.MSG.GET.KV_<b>`;
 * - a watch: an ordered consumer, made by `$JS.API.CONSUMER.CREATE.KV_<b>.<name>.<filter>`,
 *   made again after a gap by `$JS.API.CONSUMER.CREATE.KV_<b>`, answering flow control on
 *   `$JS.FC.KV_<b>.<consumer>.<id>`;
 * - put, create, update (the expected revision is a header) and delete: a publish on
 *   `$KV.<b>.<key>`. A create over a deleted key also gets it.
 * Every answer, and a watch's messages, arrive on the role's inbox (common/nats.ts inboxPrefix).
 */
import { alarmSubjects } from '../analytics/events.js';
import { OPEN_ALARMS_BUCKET, STATE_BUCKET } from '../analytics/store.js';
import { SNAPSHOT_BUCKET } from '../workers/snapshot-store.js';
import { ticketSubject } from '../workflows/activities.js';
import { NOTIFICATIONS_SUBJECT } from '../workflows/config.js';
import type { Account } from './credentials.js';
import { subjects } from './machine-commands.js';
import { inboxPrefix } from './nats.js';
import { REGISTRY_BUCKET } from './registry.js';
import { SERVICE_ROLES } from './service-roles.js';

export type NatsRole = Exclude<(typeof SERVICE_ROLES.nats)[number], 'admin'>;

export interface SubjectRules {
  allow: string[];
  deny: string[];
}

export interface NatsPermissions {
  publish: SubjectRules;
  subscribe: SubjectRules;
  /** May answer a request it received, once, on the request's reply subject (`msg.respond`). */
  allowResponses: boolean;
}

/**
 * What a role does, in the code's own terms. Buckets are granted at three levels: `get` (a key
 * at a time), `read` (also whole, by a watch) and `write` (put, create, update, delete, and get).
 * A watch needs the right to create consumers, and a consumer may be told to deliver to any
 * subject (the server does not check that against the creator's permissions), so it is granted
 * only to roles that read a bucket whole.
 */
interface RoleNeeds {
  publish: string[];
  subscribe: string[];
  get?: string[];
  read?: string[];
  write?: string[];
  /** Answers requests it receives (`msg.respond`): replies go to the requester's inbox. */
  answersRequests?: boolean;
}

const BUCKETS = [REGISTRY_BUCKET, SNAPSHOT_BUCKET, STATE_BUCKET, OPEN_ALARMS_BUCKET];

const NEEDS: Record<NatsRole, RoleNeeds> = {
  // Which machine belongs to which line (pipeline/fleet-view.ts).
  bridge: { publish: [], subscribe: [], read: [REGISTRY_BUCKET] },
  // Alarm state and the open-alarm view; answers alarm commands; owners' state events tell
  // which machine a ticket holds; a skip is checked against the owner's snapshot.
  analytics: {
    publish: [alarmSubjects.answer('>')],
    subscribe: [subjects.state('*')],
    get: [SNAPSHOT_BUCKET],
    read: [REGISTRY_BUCKET],
    write: [STATE_BUCKET, OPEN_ALARMS_BUCKET],
  },
  // Machine owners: snapshots, state events, heartbeats, answers to commands and queries.
  workers: {
    publish: [subjects.state('*'), subjects.heartbeat, subjects.answer('>')],
    subscribe: [subjects.queryAll, subjects.heartbeat],
    read: [REGISTRY_BUCKET],
    write: [SNAPSHOT_BUCKET],
    answersRequests: true,
  },
  // Activities: notifications, ticket events, queries of a machine's owner, answers to the
  // commands they send; the state watch; the dispatcher asks whether an alarm is still open.
  workflows: {
    publish: [`${NOTIFICATIONS_SUBJECT}.>`, ticketSubject('>'), subjects.query('*')],
    subscribe: [subjects.state('*'), subjects.answer('>'), alarmSubjects.answer('>')],
    get: [OPEN_ALARMS_BUCKET],
  },
  // The web server, the CLI's commands, verify and simulations: they read and ask, and change
  // things only by Kafka commands, whose answers arrive here. Notifications and ticket events
  // are theirs to follow.
  operator: {
    publish: [subjects.query('*')],
    subscribe: [
      subjects.state('*'),
      subjects.heartbeat,
      subjects.answer('>'),
      alarmSubjects.answer('>'),
      `${NOTIFICATIONS_SUBJECT}.>`,
      ticketSubject('>'),
    ],
    read: [REGISTRY_BUCKET, SNAPSHOT_BUCKET, OPEN_ALARMS_BUCKET],
  },
};

const stream = (bucket: string) => `KV_${bucket}`;
const getBucket = (bucket: string) => [`$JS.API.DIRECT.GET.${stream(bucket)}.>`];
const readBucket = (bucket: string) => [
  ...getBucket(bucket),
  `$JS.API.STREAM.MSG.GET.${stream(bucket)}`,
  `$JS.API.CONSUMER.CREATE.${stream(bucket)}`,
  `$JS.API.CONSUMER.CREATE.${stream(bucket)}.>`,
  `$JS.FC.${stream(bucket)}.>`,
];
const writeBucket = (bucket: string) => [...getBucket(bucket), `$KV.${bucket}.>`];

/**
 * Refused to every role but admin even if an allow rule above grew to cover them: changing or
 * removing streams and consumers (a purge or a deleted message would empty a bucket without a
 * trace of who did it), durable consumers, and the server's and account's controls.
 */
const MANAGEMENT_DENIED = [
  'STREAM.CREATE',
  'STREAM.UPDATE',
  'STREAM.DELETE',
  'STREAM.PURGE',
  'STREAM.MSG.DELETE',
  'STREAM.SNAPSHOT',
  'STREAM.RESTORE',
  'STREAM.PEER',
  'STREAM.LEADER',
  'STREAM.TEMPLATE',
  'CONSUMER.DELETE',
  'CONSUMER.DURABLE',
  'CONSUMER.LEADER',
  'META',
  'SERVER',
  'ACCOUNT',
].map((api) => `$JS.API.${api}.>`);

function permissionsOf(role: NatsRole): NatsPermissions {
  const { get = [], read = [], write = [], ...n } = NEEDS[role];
  const buckets = [...get.flatMap(getBucket), ...read.flatMap(readBucket), ...write.flatMap(writeBucket)];
  return {
    publish: {
      allow: [...n.publish, ...(buckets.length ? ['$JS.API.INFO'] : []), ...new Set(buckets)],
      // The buckets this role does not write, named, so no allow rule can ever cover them.
      deny: [...MANAGEMENT_DENIED, ...BUCKETS.filter((b) => !write.includes(b)).map((b) => `$KV.${b}.>`)],
    },
    subscribe: { allow: [...n.subscribe, `${inboxPrefix(role)}.>`], deny: [] },
    allowResponses: n.answersRequests === true,
  };
}

const NATS_ROLES = SERVICE_ROLES.nats.filter((r): r is NatsRole => r !== 'admin');

export const NATS_PERMISSIONS = Object.fromEntries(NATS_ROLES.map((r) => [r, permissionsOf(r)])) as Record<
  NatsRole,
  NatsPermissions
>;

/**
 * A string for nats.conf: double-quoted (never a `$variable`), every byte outside plain printable
 * ASCII, and `"` and `\`, written as `\xHH`, the one escape the config lexer takes for any byte.
 */
export function confString(s: string): string {
  let out = '';
  for (const byte of Buffer.from(s, 'utf8')) {
    const plain = byte >= 0x20 && byte < 0x7f && byte !== 0x22 && byte !== 0x5c;
    out += plain ? String.fromCharCode(byte) : `\\x${byte.toString(16).padStart(2, '0')}`;
  }
  return `"${out}"`;
}

/** nats-server compares a password that looks like a bcrypt hash as a hash, never as the secret. */
const BCRYPT_LIKE = /^\$2[abxy]?\$\d\d\$/;

const list = (items: string[]) => `[${items.map(confString).join(', ')}]`;
const rules = (r: SubjectRules) =>
  r.deny.length ? `{ allow: ${list(r.allow)}, deny: ${list(r.deny)} }` : `{ allow: ${list(r.allow)} }`;

/**
 * The `authorization` block of nats.conf from credentials.json's NATS accounts: a user per
 * role, `admin` unlimited, the others as NATS_PERMISSIONS says. No anonymous user: a client
 * without a known user and password is refused.
 */
export function renderAuthorization(accounts: Record<string, Account>): string {
  const users = SERVICE_ROLES.nats.map((role) => {
    const account = accounts[role];
    if (!account) throw new Error(`credentials.json has no NATS account for role ${role}: run "factory up".`);
    if (BCRYPT_LIKE.test(account.password))
      throw new Error(
        `the NATS password of role ${role} looks like a bcrypt hash; nats-server would not accept it.`,
      );
    const user = `user: ${confString(account.username)}, password: ${confString(account.password)}`;
    if (role === 'admin') return `    { ${user} }`;
    const p = NATS_PERMISSIONS[role];
    return [
      `    { ${user}, permissions: {`,
      `      publish: ${rules(p.publish)}`,
      `      subscribe: ${rules(p.subscribe)}`,
      ...(p.allowResponses ? ['      allow_responses: true'] : []),
      '    } }',
    ].join('\n');
  });
  return ['authorization {', '  users = [', ...users, '  ]', '}'].join('\n');
}
