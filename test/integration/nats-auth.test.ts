/**
 * NATS authentication and per-role permissions on the real server (common/nats-permissions.ts):
 * no anonymous or wrong-password client; only `factory up` writes the fleet registry, only
 * workers the snapshots, only analytics its buckets; nobody but admin deletes or purges a
 * stream; and the reads, writes and request/reply each role lives on still work, without one
 * permission error (a missing permission shows in production only as a timeout).
 */
import { randomUUID } from 'node:crypto';
import { connect, ErrorCode, Events, type NatsConnection, NatsError } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AnalyticsStore, OPEN_ALARMS_BUCKET, STATE_BUCKET } from '../../analytics/store.js';
import { formatAddress } from '../../common/config.js';
import { serviceAccount } from '../../common/credentials.js';
import { bindBucket } from '../../common/kv.js';
import { subjects } from '../../common/machine-commands.js';
import { connectNats } from '../../common/nats.js';
import type { NatsRole } from '../../common/nats-permissions.js';
import { FleetRegistry, REGISTRY_BUCKET } from '../../common/registry.js';
import {
  MODEL_VERSION,
  SNAPSHOT_BUCKET,
  type SnapshotEntry,
  SnapshotStore,
} from '../../workers/snapshot-store.js';
import { testConfig } from './stack-env.js';

const config = testConfig();
const ROLES: NatsRole[] = ['bridge', 'analytics', 'workers', 'workflows', 'operator'];
/** Who may write each bucket besides admin: the rule under test, stated here, not read from the table. */
const WRITERS: Record<string, NatsRole[]> = {
  [REGISTRY_BUCKET]: [],
  [SNAPSHOT_BUCKET]: ['workers'],
  [STATE_BUCKET]: ['analytics'],
  [OPEN_ALARMS_BUCKET]: ['analytics'],
};
const tag = randomUUID().slice(0, 8);

let admin: NatsConnection;
const conns = new Map<NatsRole, NatsConnection>();
/** Every permission error each role's connection was told of, as "publish <subject>". */
const refusals = new Map<NatsRole, string[]>();
/** The permission errors each role was told of since `mark()`. */
const mark = () => {
  const at = new Map(ROLES.map((r) => [r, refusals.get(r)!.length]));
  return (role: NatsRole) => refusals.get(role)!.slice(at.get(role));
};
/** Keys the tests wrote, purged by admin at the end. */
const written: { bucket: string; key: string }[] = [];

const as = (role: NatsRole) => conns.get(role)!;

beforeAll(async () => {
  admin = await connectNats(config, 'nats-auth-test', 'admin');
  for (const role of ROLES) {
    const nc = await connectNats(config, `nats-auth-test-${role}`, role);
    const seen: string[] = [];
    void (async () => {
      for await (const s of nc.status())
        if (s.type === Events.Error && s.permissionContext)
          seen.push(`${s.permissionContext.operation} ${s.permissionContext.subject}`);
    })();
    conns.set(role, nc);
    refusals.set(role, seen);
  }
});

afterAll(async () => {
  for (const { bucket, key } of written) {
    const kv = await bindBucket(admin, bucket);
    if (await kv.get(key)) await kv.purge(key);
  }
  for (const nc of conns.values()) await nc.close();
  await admin?.close();
});

/**
 * Rejects with the server's permissions violation for publishing to `subject` (or a subject that
 * begins with it), and nothing else will do.
 */
async function expectRefused(work: Promise<unknown>, subject: string): Promise<void> {
  const err = await work.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, `the server allowed a publish to ${subject}`).toBeInstanceOf(NatsError);
  expect((err as NatsError).code).toBe(ErrorCode.PermissionsViolation);
  expect((err as NatsError).message).toContain(`Publish to "${subject}`);
}

/** A connection attempt's outcome: 'connected', or the error code it was refused with. */
const attempt = (opts: { user?: string; pass?: string }) =>
  connect({ servers: formatAddress(config.nats), timeout: 3_000, maxReconnectAttempts: 0, ...opts }).then(
    async (nc) => {
      await nc.close();
      return 'connected';
    },
    (err: NatsError) => err.code,
  );

describe('NATS authentication', () => {
  it('refuses a client without a user, and one with a wrong password', async () => {
    expect(await attempt({})).toBe(ErrorCode.AuthorizationViolation);
    const operator = serviceAccount(config, 'nats', 'operator');
    expect(await attempt({ user: operator.username, pass: `${operator.password}x` })).toBe(
      ErrorCode.AuthorizationViolation,
    );
    // The same attempt with the right password connects: the refusals above are about the secret.
    expect(await attempt({ user: operator.username, pass: operator.password })).toBe('connected');
  });
});

describe('NATS permissions', () => {
  it('lets only a bucket’s writers write it: the fleet registry no one but factory up', async () => {
    for (const [bucket, writers] of Object.entries(WRITERS)) {
      const key = bucket === REGISTRY_BUCKET ? `machine.NATS-AUTH-${tag}` : `NATS-AUTH-${tag}`;
      const subject = `$KV.${bucket}.${key}`;
      for (const role of ROLES.filter((r) => !writers.includes(r))) {
        const kv = await bindBucket(as(role), bucket);
        await expectRefused(kv.put(key, '{}'), subject);
        await expectRefused(kv.create(key, '{}'), subject);
        await expectRefused(kv.delete(key), subject);
      }
      written.push({ bucket, key });
      expect(await (await bindBucket(admin, bucket)).get(key), `${bucket} ${key}`).toBeNull();
    }
  });

  it('refuses every role but admin to delete, purge, change or create a stream, or delete a message', async () => {
    const stream = `KV_${REGISTRY_BUCKET}`;
    const jsmAdmin = await admin.jetstreamManager();
    const before = await jsmAdmin.streams.info(stream);
    const definition = await (await bindBucket(admin, REGISTRY_BUCKET)).get('fleet.definition');
    expect(before.state.messages).toBeGreaterThan(0);
    const api = '$JS.API.STREAM';
    for (const role of ROLES) {
      const nc = as(role);
      const jsm = await nc.jetstreamManager();
      await expectRefused(jsm.streams.purge(stream), `${api}.PURGE.${stream}`);
      await expectRefused(
        jsm.streams.deleteMessage(stream, before.state.last_seq),
        `${api}.MSG.DELETE.${stream}`,
      );
      // Sent as it is: nats.js would ask for the stream's info first (refused as well).
      const update = JSON.stringify({ ...before.config, max_msgs_per_subject: 1 });
      await expectRefused(nc.request(`${api}.UPDATE.${stream}`, update), `${api}.UPDATE.${stream}`);
      await expectRefused(jsm.streams.delete(stream), `${api}.DELETE.${stream}`);
      const created = `NATS-AUTH-${tag}`;
      await expectRefused(
        jsm.streams.add({ name: created, subjects: [`nats-auth.${tag}.>`] }),
        `${api}.CREATE.${created}`,
      );
    }
    const after = await jsmAdmin.streams.info(stream);
    expect(after.state).toMatchObject({
      messages: before.state.messages,
      first_seq: before.state.first_seq,
      last_seq: before.state.last_seq,
    });
    expect(after.config.max_msgs_per_subject).toBe(before.config.max_msgs_per_subject);
    expect((await (await bindBucket(admin, REGISTRY_BUCKET)).get('fleet.definition'))?.revision).toBe(
      definition?.revision,
    );
    await expect(jsmAdmin.streams.info(`NATS-AUTH-${tag}`)).rejects.toThrow(/stream not found/);
  });

  it('lets workers purge nothing of their own bucket either', async () => {
    const key = `NATS-AUTH-PROBE-${tag}`;
    written.push({ bucket: SNAPSHOT_BUCKET, key });
    const revision = await (await bindBucket(as('workers'), SNAPSHOT_BUCKET)).put(key, '{}');
    const jsm = await as('workers').jetstreamManager();
    const stream = `KV_${SNAPSHOT_BUCKET}`;
    await expectRefused(
      jsm.streams.purge(stream, { filter: `$KV.${SNAPSHOT_BUCKET}.${key}` }),
      `$JS.API.STREAM.PURGE.${stream}`,
    );
    await expectRefused(jsm.streams.deleteMessage(stream, revision), `$JS.API.STREAM.MSG.DELETE.${stream}`);
    await expectRefused(jsm.streams.delete(stream), `$JS.API.STREAM.DELETE.${stream}`);
    expect((await (await bindBucket(admin, SNAPSHOT_BUCKET)).get(key))?.revision).toBe(revision);
  });

  it('drops a state event or heartbeat published by a role that is not a machine owner', async () => {
    const machineId = `NATS-AUTH-${tag}`;
    const since = mark();
    const heard: string[] = [];
    const sub = admin.subscribe(subjects.state(machineId), { callback: (_e, m) => heard.push(m.subject) });
    await admin.flush();
    for (const role of ROLES.filter((r) => r !== 'workers')) {
      as(role).publish(subjects.state(machineId), '{}');
      await as(role).flush();
    }
    as('workers').publish(subjects.state(machineId), '{}');
    await as('workers').flush();
    await admin.flush();
    await new Promise((r) => setTimeout(r, 200));
    sub.unsubscribe();
    expect(heard).toEqual([subjects.state(machineId)]);
    for (const role of ROLES.filter((r) => r !== 'workers'))
      expect(since(role)).toContain(`publish ${subjects.state(machineId)}`);
    expect(since('workers')).toEqual([]);
  });

  it('lets a role that reads a bucket a key at a time create no consumer on it', async () => {
    // A consumer delivers wherever its creator says: only roles that watch a bucket may make one.
    const stream = `KV_${OPEN_ALARMS_BUCKET}`;
    const kv = await bindBucket(as('workflows'), OPEN_ALARMS_BUCKET);
    await expectRefused(kv.watch(), `$JS.API.CONSUMER.CREATE.${stream}.`);
    const jsm = await as('workflows').jetstreamManager();
    await expectRefused(
      jsm.consumers.add(stream, { deliver_subject: subjects.heartbeat }),
      `$JS.API.CONSUMER.CREATE.${stream}`,
    );
  });

  it('keeps each role out of the other roles’ inboxes', async () => {
    const outcome = await new Promise<string>((resolve) => {
      as('operator').subscribe('_INBOX.workers.>', { callback: (err) => resolve(err?.code ?? 'a message') });
      setTimeout(() => resolve('no answer'), 3_000);
    });
    expect(outcome).toBe(ErrorCode.PermissionsViolation);
  });

  it('lets workers write snapshots that the operator reads, and the operator query an owner', async () => {
    const machineId = `NATS-AUTH-${tag}`;
    const since = mark();
    written.push({ bucket: SNAPSHOT_BUCKET, key: machineId });
    const entry: SnapshotEntry = {
      v: 1,
      machineId,
      type: 'nats-auth-test',
      modelVersion: MODEL_VERSION,
      owner: 'nats-auth-test',
      shard: 0,
      epoch: 0,
      seq: 0,
      published: 0,
      reservedUpTo: 0,
      gaps: [],
      commands: { offset: -1, applied: 0 },
      released: false,
      savedAt: Date.now(),
      context: { state: 'IDLE' },
    };
    const workersStore = await SnapshotStore.open(as('workers'));
    const rev = await workersStore.write(entry, 0);
    expect(await workersStore.write({ ...entry, seq: 1 }, rev)).toBeGreaterThan(rev);
    const operatorStore = await SnapshotStore.open(as('operator'));
    expect((await operatorStore.read(machineId))?.value.seq).toBe(1);
    expect((await operatorStore.all()).get(machineId)?.value.seq).toBe(1);

    const owner = as('workers').subscribe(subjects.query(machineId), {
      callback: (_e, m) => m.respond(JSON.stringify({ machineId, state: 'IDLE' })),
    });
    await as('workers').flush();
    const answer = await as('operator').request(subjects.query(machineId), '', { timeout: 3_000 });
    owner.unsubscribe();
    expect(answer.json()).toEqual({ machineId, state: 'IDLE' });
    for (const role of ['workers', 'operator'] as const) expect(since(role), role).toEqual([]);
  });

  it('lets each role read what it reads today, without a permission error', async () => {
    const key = `_nats-auth.${tag}`;
    const since = mark();
    written.push({ bucket: STATE_BUCKET, key });
    const state = await bindBucket(as('analytics'), STATE_BUCKET);
    await state.put(key, '{"v":1}');
    expect((await state.get(key))?.string()).toBe('{"v":1}');
    for (const role of ['bridge', 'analytics', 'workers', 'operator'] as const) {
      const registry = await FleetRegistry.open(as(role));
      expect((await registry.machines()).size, role).toBeGreaterThan(0);
      const follow = await registry.follow(() => {});
      await follow.initialized;
      follow.stop();
    }
    expect(await (await FleetRegistry.open(as('analytics'))).definition()).toBeDefined();
    await (await SnapshotStore.open(as('analytics'))).read(`NATS-AUTH-${tag}`);
    expect(await (await AnalyticsStore.open(as('analytics'))).load(`NATS-AUTH-${tag}`)).toEqual({
      state: undefined,
      revision: 0,
    });
    await (await AnalyticsStore.open(as('workflows'))).isOpen(`NATS-AUTH-${tag}.rule.1`);
    await (await AnalyticsStore.open(as('operator'))).openAlarms();
    for (const role of ROLES) {
      await as(role).flush();
      expect(since(role), role).toEqual([]);
    }
  });
});
