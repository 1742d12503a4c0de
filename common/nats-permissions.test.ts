import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { alarmSubjects } from '../analytics/events.js';
import { OPEN_ALARMS_BUCKET, STATE_BUCKET } from '../analytics/store.js';
import { SNAPSHOT_BUCKET } from '../workers/snapshot-store.js';
import { ticketSubject } from '../workflows/activities.js';
import { subjects } from './machine-commands.js';
import { inboxPrefix } from './nats.js';
import {
  confString,
  NATS_PERMISSIONS,
  type NatsRole,
  renderAuthorization,
  type SubjectRules,
} from './nats-permissions.js';
import { REGISTRY_BUCKET } from './registry.js';

/**
 * Whether every subject `subject` can stand for is matched by `pattern` (NATS wildcards: `*` one
 * token, `>` one or more at the end). For a plain subject that is simply "matches".
 */
function covers(pattern: string, subject: string): boolean {
  const p = pattern.split('.');
  const s = subject.split('.');
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '>') return s.length > i;
    if (i >= s.length || s[i] === '>') return false;
    if (p[i] !== '*' && (s[i] === '*' || p[i] !== s[i])) return false;
  }
  return p.length === s.length;
}

const allowed = (r: SubjectRules, subject: string) =>
  r.allow.some((a) => covers(a, subject)) && !r.deny.some((d) => covers(d, subject));

/** What nats.js 2.x sends, as the server's trace showed it (see common/nats-permissions.ts). */
const kv = {
  get: (b: string, key = 'M-0001') => ['$JS.API.INFO', `$JS.API.DIRECT.GET.KV_${b}.$KV.${b}.${key}`],
  read: (b: string, key = '>') => [
    ...kv.get(b),
    `$JS.API.STREAM.MSG.GET.KV_${b}`,
    `$JS.API.CONSUMER.CREATE.KV_${b}.X2B7A9.$KV.${b}.${key}`,
    `$JS.API.CONSUMER.CREATE.KV_${b}`,
    `$JS.FC.KV_${b}.X2B7A9.z6OS`,
  ],
  write: (b: string, key = 'M-0001') => [...kv.get(b, key), `$KV.${b}.${key}`],
};

/** What each role's code publishes and subscribes to, by the code's own constants. */
const NEEDED: Record<NatsRole, { publish: string[]; subscribe: string[] }> = {
  bridge: { publish: kv.read(REGISTRY_BUCKET, 'machine.>'), subscribe: [] },
  analytics: {
    publish: [
      alarmSubjects.answer('9f1c'),
      ...kv.read(REGISTRY_BUCKET, 'machine.>'),
      ...kv.get(REGISTRY_BUCKET, 'fleet.definition'),
      ...kv.get(SNAPSHOT_BUCKET),
      ...kv.write(STATE_BUCKET),
      ...kv.write(STATE_BUCKET, '_line.plant-1.line-1'),
      ...kv.write(OPEN_ALARMS_BUCKET, 'M-0001.temperature-high.7'),
    ],
    subscribe: [subjects.state('*')],
  },
  workers: {
    publish: [
      subjects.state('M-0001'),
      subjects.heartbeat,
      subjects.answer('9f1c'),
      ...kv.read(REGISTRY_BUCKET, 'machine.>'),
      ...kv.write(SNAPSHOT_BUCKET),
    ],
    subscribe: [subjects.queryAll, subjects.heartbeat],
  },
  workflows: {
    publish: [
      'factory.notifications.operator',
      ticketSubject('opened'),
      ticketSubject('repaired'),
      subjects.query('M-0001'),
      ...kv.get(OPEN_ALARMS_BUCKET, 'M-0001.temperature-high.7'),
    ],
    subscribe: [subjects.state('*'), subjects.answer('wf-1'), alarmSubjects.answer('wf-2')],
  },
  operator: {
    publish: [
      subjects.query('M-0001'),
      ...kv.read(REGISTRY_BUCKET, 'machine.>'),
      ...kv.read(SNAPSHOT_BUCKET),
      ...kv.read(OPEN_ALARMS_BUCKET),
    ],
    subscribe: [
      subjects.state('*'),
      subjects.heartbeat,
      subjects.answer('cli-1'),
      alarmSubjects.answer('cli-2'),
      'factory.notifications.>',
      ticketSubject('>'),
    ],
  },
};

/** Who may write each bucket besides admin. */
const WRITERS: Record<string, NatsRole[]> = {
  [REGISTRY_BUCKET]: [],
  [SNAPSHOT_BUCKET]: ['workers'],
  [STATE_BUCKET]: ['analytics'],
  [OPEN_ALARMS_BUCKET]: ['analytics'],
};

const ROLES = Object.keys(NATS_PERMISSIONS) as NatsRole[];

describe('NATS permissions', () => {
  it('has a user for every NATS role but admin', () => {
    expect(ROLES.sort()).toEqual(['analytics', 'bridge', 'operator', 'workers', 'workflows']);
  });

  it('allows each role what its code does, replies on its own inbox included', () => {
    for (const role of ROLES) {
      const p = NATS_PERMISSIONS[role];
      for (const s of NEEDED[role].publish) expect(allowed(p.publish, s), `${role} publish ${s}`).toBe(true);
      for (const s of [...NEEDED[role].subscribe, `${inboxPrefix(role)}.K3x9.*`])
        expect(allowed(p.subscribe, s), `${role} subscribe ${s}`).toBe(true);
    }
    // Workers answer queries on the requester's inbox; no one else answers requests.
    expect(ROLES.filter((r) => NATS_PERMISSIONS[r].allowResponses)).toEqual(['workers']);
  });

  it('lets only a bucket’s writers write it, and no one but admin manage a stream or consumer', () => {
    for (const role of ROLES) {
      const p = NATS_PERMISSIONS[role];
      for (const b of Object.keys(WRITERS)) {
        const stream = `KV_${b}`;
        expect(allowed(p.publish, `$KV.${b}.M-0001`), `${role} writes ${b}`).toBe(WRITERS[b]!.includes(role));
        for (const api of ['CREATE', 'UPDATE', 'DELETE', 'PURGE', 'MSG.DELETE', 'SNAPSHOT', 'RESTORE'])
          expect(allowed(p.publish, `$JS.API.STREAM.${api}.${stream}`), `${role} STREAM.${api}`).toBe(false);
        expect(allowed(p.publish, `$JS.API.CONSUMER.DELETE.${stream}.X2B7A9`)).toBe(false);
        expect(allowed(p.publish, `$JS.API.CONSUMER.DURABLE.CREATE.${stream}.evil`)).toBe(false);
        // A bucket it may not write is named as a deny rule: a broader allow added later cannot open it.
        if (!WRITERS[b]!.includes(role)) expect(p.publish.deny).toContain(`$KV.${b}.>`);
      }
      for (const api of ['CREATE', 'UPDATE', 'DELETE', 'PURGE', 'MSG.DELETE'])
        expect(p.publish.deny).toContain(`$JS.API.STREAM.${api}.>`);
    }
  });

  it('refuses what no role but the owner of a subject does', () => {
    for (const role of ROLES) {
      const p = NATS_PERMISSIONS[role];
      const owner = role === 'workers';
      expect(allowed(p.publish, subjects.state('M-0001')), `${role} publishes a state event`).toBe(owner);
      expect(allowed(p.publish, subjects.heartbeat), `${role} publishes a heartbeat`).toBe(owner);
      expect(allowed(p.publish, subjects.answer('9f1c')), `${role} answers a command`).toBe(owner);
      expect(allowed(p.publish, alarmSubjects.answer('9f1c'))).toBe(role === 'analytics');
      expect(allowed(p.publish, 'factory._health.1')).toBe(false);
      expect(allowed(p.subscribe, 'factory._health.1')).toBe(false);
      expect(allowed(p.subscribe, '>')).toBe(false);
      expect(allowed(p.subscribe, '$KV.actor-snapshots.>'), `${role} hears snapshot writes`).toBe(false);
      for (const other of ROLES.filter((r) => r !== role))
        expect(allowed(p.subscribe, `${inboxPrefix(other)}.>`), `${role} reads ${other}'s replies`).toBe(
          false,
        );
    }
  });

  it('grants consumers (which deliver wherever told) only on buckets a role reads whole', () => {
    const consumerOn = (role: NatsRole, b: string) =>
      allowed(NATS_PERMISSIONS[role].publish, `$JS.API.CONSUMER.CREATE.KV_${b}`);
    expect(consumerOn('workflows', OPEN_ALARMS_BUCKET)).toBe(false);
    expect(consumerOn('analytics', SNAPSHOT_BUCKET)).toBe(false);
    expect(consumerOn('analytics', STATE_BUCKET)).toBe(false);
    expect(consumerOn('workers', SNAPSHOT_BUCKET)).toBe(false);
    expect(consumerOn('operator', SNAPSHOT_BUCKET)).toBe(true);
    expect(ROLES.filter((r) => consumerOn(r, STATE_BUCKET))).toEqual([]);
  });
});

const ESCAPES: Record<string, number> = { t: 9, n: 10, r: 13, '"': 34, '\\': 92 };

/** How nats-server's config lexer reads a double-quoted string: `\xHH` and ESCAPES. */
function lexConfString(quoted: string): string {
  expect(quoted.startsWith('"') && quoted.endsWith('"')).toBe(true);
  const body = quoted.slice(1, -1);
  const bytes: number[] = [];
  for (let i = 0; i < body.length; i++) {
    if (body[i] !== '\\') {
      bytes.push(body.charCodeAt(i));
      continue;
    }
    const c = body[++i];
    if (c === 'x') {
      bytes.push(Number.parseInt(body.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      const escaped = ESCAPES[c ?? ''];
      if (escaped === undefined) throw new Error(`the lexer refuses the escape \\${c}`);
      bytes.push(escaped);
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

const account = (password: string) => ({ username: 'u', password });
const accounts = (password = 'A-_b'.repeat(6)) =>
  Object.fromEntries(
    ['admin', 'bridge', 'analytics', 'workers', 'workflows', 'operator'].map((r) => [
      r,
      { username: r, password: `${password}-${r}` },
    ]),
  );

describe('renderAuthorization', () => {
  it('writes one user per role, admin without limits, and no anonymous user', () => {
    const conf = renderAuthorization(accounts());
    for (const role of ['admin', ...ROLES]) expect(conf).toContain(`{ user: "${role}", password: "`);
    expect(conf).toMatch(/\{ user: "admin", password: "[^"]*" \}\n/);
    expect(conf.match(/permissions: \{/g)).toHaveLength(ROLES.length);
    expect(conf.match(/allow_responses: true/g)).toHaveLength(1);
    expect(conf).not.toMatch(/no_auth_user|anonymous/);
    expect(conf).toContain(confString('$JS.API.STREAM.PURGE.>'));
  });

  it('quotes any password so that the server reads back exactly it, on one line', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', minLength: 8 }), (password) => {
        const quoted = confString(password);
        // One line, and no quote before the closing one: nothing can end the string early.
        expect(quoted).not.toMatch(/[\r\n]/);
        expect(quoted.slice(1, -1)).not.toContain('"');
        expect(lexConfString(quoted)).toBe(password);
      }),
    );
    for (const hostile of ['ab"cd\\ef', '$VAR', 'a\n}\n  { user: "x" }', 'näïve-🔑-pw', '#comment'])
      expect(lexConfString(confString(hostile))).toBe(hostile);
    expect(confString('$JS.API.INFO')).toBe('"$JS.API.INFO"');
  });

  it('refuses a password the server would take for a bcrypt hash, and a missing account', () => {
    const all = accounts();
    expect(() => renderAuthorization({ ...all, workers: account('$2a$11$abcdefghijklmnopqrstuv') })).toThrow(
      /workers .*bcrypt/,
    );
    const { operator: _, ...missing } = all;
    expect(() => renderAuthorization(missing)).toThrow(/no NATS account for role operator/);
  });
});
