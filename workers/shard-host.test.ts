import { describe, expect, it } from 'vitest';
import { createMachineModel, DEFAULT_PARAMS } from '../actors/index.js';
import type { RegisteredMachine } from '../actors/registry.js';
import { silentLogger } from '../common/log.js';
import { partitionOf } from '../common/partitioner.js';
import { CommandNotSaved, ShardHost, type SnapshotPort, type TelemetryPort } from './shard-host.js';
import type { SnapshotEntry } from './snapshot-store.js';

/** A KV with revisions, as NATS fences writes: update needs the current revision, create none. */
class FakeKv implements SnapshotPort {
  readonly data = new Map<string, { value: SnapshotEntry; revision: number }>();
  private rev = 0;
  async read(id: string) {
    const e = this.data.get(id);
    return e && { value: structuredClone(e.value), revision: e.revision };
  }
  async revisionOf(id: string) {
    return this.data.get(id)?.revision ?? 0;
  }
  async write(entry: SnapshotEntry, revision: number) {
    const cur = this.data.get(entry.machineId)?.revision ?? 0;
    if (cur !== revision) throw new Error(`wrong last sequence: ${cur}`);
    this.data.set(entry.machineId, { value: structuredClone(entry), revision: ++this.rev });
    return this.rev;
  }
}

class FakeSink implements TelemetryPort {
  readonly sent: { machineId: string; seq: number; payload: string }[] = [];
  readonly events: unknown[] = [];
  readonly unsettledSeqs = new Map<string, number[]>();
  confirmAll = true;
  telemetry(m: RegisteredMachine, payload: string, seq: number) {
    this.sent.push({ machineId: m.machineId, seq, payload });
    if (!this.confirmAll)
      this.unsettledSeqs.set(m.machineId, [...(this.unsettledSeqs.get(m.machineId) ?? []), seq]);
  }
  event(_m: RegisteredMachine, payload: string) {
    this.events.push(JSON.parse(payload));
  }
  unsettled(id: string) {
    return this.unsettledSeqs.get(id)?.[0];
  }
  forget(id: string) {
    this.unsettledSeqs.delete(id);
  }
}

const SHARDS = 4;
const machine = (n: number): RegisteredMachine => ({
  v: 1,
  machineId: `M-${String(n).padStart(4, '0')}`,
  site: 'plant-1',
  line: 'line-1',
  type: 'default',
  seed: n,
  serial: n,
  external: false,
  addedAt: 0,
  retiredAt: null,
});
const fleet = Array.from({ length: 12 }, (_, i) => machine(i + 1));
const model = createMachineModel(DEFAULT_PARAMS);

function host(id: string, kv: FakeKv, sink: FakeSink, clock: { now: number }, fenced = { on: false }) {
  return new ShardHost({
    workerId: id,
    shards: SHARDS,
    store: kv,
    sink,
    model: () => model,
    periodMs: 1_000,
    snapshotEveryMs: 5_000,
    block: 20,
    fenced: () => fenced.on,
    workerAlive: () => false,
    handoffWaitMs: 0,
    settleWaitMs: 0,
    clock: () => clock.now,
    log: silentLogger,
  });
}

/** A host that has every machine registered and owns `shards`. */
async function hosting(
  id: string,
  kv: FakeKv,
  sink: FakeSink,
  clock: { now: number },
  fenced = { on: false },
  shards = [0, 1, 2, 3],
) {
  const h = host(id, kv, sink, clock, fenced);
  for (const m of fleet) await h.registered(m);
  await h.assign(shards);
  return h;
}

async function run(h: ShardHost, clock: { now: number }, seconds: number) {
  for (let i = 0; i < seconds * 10; i++) {
    clock.now += 100;
    h.tickDue();
    await new Promise((r) => setImmediate(r));
  }
}

const all = [0, 1, 2, 3];

describe('ShardHost', () => {
  it('never emits two readings of a machine in the same millisecond (InfluxDB would keep one)', async () => {
    const kv = new FakeKv();
    const sink = new FakeSink();
    const clock = { now: 1_000_000 };
    const h = await hosting('w1', kv, sink, clock);
    // The slots come round in the very millisecond the acquisition's readings were taken.
    h.tickDue();
    await run(h, clock, 2);
    const points = sink.sent.map((s) => `${s.machineId}@${(JSON.parse(s.payload) as { ts: number }).ts}`);
    expect(new Set(points).size).toBe(points.length);
    const first = sink.sent.filter((s) => s.machineId === fleet[0]!.machineId).map((s) => s.seq);
    expect(first).toEqual([1, 2, 3]);
  });

  it('hosts exactly the machines of its shards and emits each seq once', async () => {
    const kv = new FakeKv();
    const sink = new FakeSink();
    const clock = { now: 1_000_000 };
    const h = await hosting('w1', kv, sink, clock, undefined, [0, 1]);
    const mine = fleet.filter((m) => [0, 1].includes(partitionOf(m.machineId, SHARDS)));
    expect(h.size).toBe(mine.length);
    await run(h, clock, 5);
    const seqs = sink.sent.filter((s) => s.machineId === mine[0]!.machineId).map((s) => s.seq);
    expect(seqs).toEqual([1, 2, 3, 4, 5, 6]); // one at acquisition, then one a second
    expect(new Set(sink.sent.map((s) => s.machineId))).toEqual(new Set(mine.map((m) => m.machineId)));
  });

  it('never emits past its reservation and extends it ahead of need', async () => {
    const kv = new FakeKv();
    const sink = new FakeSink();
    const clock = { now: 1_000_000 };
    const h = await hosting('w1', kv, sink, clock);
    await run(h, clock, 60);
    for (const m of fleet) {
      const saved = kv.data.get(m.machineId)!.value;
      const sent = sink.sent.filter((s) => s.machineId === m.machineId).map((s) => s.seq);
      expect(Math.max(...sent)).toBeLessThanOrEqual(saved.reservedUpTo);
      expect(sent.length).toBe(61);
    }
  });

  it('after a crash the next owner starts above the reservation and records the gap', async () => {
    const kv = new FakeKv();
    const sink = new FakeSink();
    sink.confirmAll = false; // nothing confirmed: the whole tail is uncertain
    const clock = { now: 1_000_000 };
    const a = await hosting('w1', kv, sink, clock);
    await run(a, clock, 7);
    // w1 dies without a word; w2 gets every shard.
    const before = new Map([...kv.data].map(([id, e]) => [id, e.value]));
    const sink2 = new FakeSink();
    const b = await hosting('w2', kv, sink2, clock);
    await run(b, clock, 2);
    for (const m of fleet) {
      const old = before.get(m.machineId)!;
      const now = kv.data.get(m.machineId)!.value;
      const first = sink2.sent.find((s) => s.machineId === m.machineId)!.seq;
      expect(first).toBe(old.reservedUpTo + 1);
      expect(now.gaps.at(-1)).toEqual([old.published + 1, old.reservedUpTo, now.epoch]);
      expect(now.owner).toBe('w2');
      // Everything w1 sent lies below w2's first seq: no seq is used twice.
      const oldMax = Math.max(...sink.sent.filter((s) => s.machineId === m.machineId).map((s) => s.seq));
      expect(oldMax).toBeLessThan(first);
    }
    expect(sink2.events).toHaveLength(fleet.length);
  });

  it('a clean hand-off continues the seq with no gap', async () => {
    const kv = new FakeKv();
    const sink = new FakeSink();
    const clock = { now: 1_000_000 };
    const a = await hosting('w1', kv, sink, clock);
    await run(a, clock, 3);
    await a.releaseAll();
    const b = await hosting('w2', kv, sink, clock);
    await run(b, clock, 3);
    for (const m of fleet) {
      const seqs = sink.sent.filter((s) => s.machineId === m.machineId).map((s) => s.seq);
      expect(seqs).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
      expect(kv.data.get(m.machineId)!.value.gaps).toEqual([]);
    }
  });

  it('a paused owner that wakes up neither publishes nor writes over the new owner', async () => {
    const kv = new FakeKv();
    const sink = new FakeSink();
    const clock = { now: 1_000_000 };
    const fenced = { on: false };
    const a = await hosting('w1', kv, sink, clock, fenced);
    await run(a, clock, 2);
    fenced.on = true; // w1 is paused: no heartbeats, so it fences itself
    const _b = await hosting('w2', kv, new FakeSink(), clock); // the group gave its shards to w2
    const owned = new Map([...kv.data].map(([id, e]) => [id, e.revision]));
    const sent = sink.sent.length;
    await run(a, clock, 12); // w1 wakes, still fenced until the group answers it
    await a.assign([], true); // its rejoin: nothing is its any more
    await run(a, clock, 2);
    expect(sink.sent.length).toBe(sent);
    expect(a.size).toBe(0);
    for (const [id, e] of kv.data) {
      expect(e.value.owner).toBe('w2');
      expect(e.revision).toBe(owned.get(id));
    }
  });

  it('a shard that moved away and came back while its owner was paused is taken over afresh', async () => {
    const kv = new FakeKv();
    const sink = new FakeSink();
    const clock = { now: 1_000_000 };
    const fenced = { on: false };
    const a = await hosting('w1', kv, sink, clock, fenced);
    await run(a, clock, 2);
    fenced.on = true;
    const b = await hosting('w2', kv, sink, clock);
    await run(b, clock, 3);
    await b.releaseAll(); // w2 hands everything back (say, it was scaled down)
    fenced.on = false;
    await a.assign(all, true); // w1 rejoins and gets every shard again: its copies are stale
    await run(a, clock, 2);
    expect(a.size).toBe(fleet.length);
    for (const m of fleet) {
      const seqs = sink.sent.filter((s) => s.machineId === m.machineId).map((s) => s.seq);
      expect(new Set(seqs).size, m.machineId).toBe(seqs.length); // no seq twice
      expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
    }
  });

  it('machines whose acquisition a fence cut short are taken on later', async () => {
    const kv = new FakeKv();
    const sink = new FakeSink();
    const clock = { now: 1_000_000 };
    const fenced = { on: true };
    const h = await hosting('w1', kv, sink, clock, fenced); // fenced throughout: nothing may be written, so nothing is taken on
    expect(h.size).toBe(0);
    fenced.on = false;
    expect(await h.reconcile()).toBe(fleet.length);
    expect(h.size).toBe(fleet.length);
    expect(await h.reconcile()).toBe(0);
  });

  it('a fenced worker neither ticks nor writes', async () => {
    const kv = new FakeKv();
    const sink = new FakeSink();
    const clock = { now: 1_000_000 };
    const fenced = { on: false };
    const h = await hosting('w1', kv, sink, clock, fenced);
    await run(h, clock, 1);
    const sent = sink.sent.length;
    const revisions = [...kv.data.values()].map((e) => e.revision);
    fenced.on = true;
    await run(h, clock, 30);
    expect(sink.sent.length).toBe(sent);
    expect([...kv.data.values()].map((e) => e.revision)).toEqual(revisions);
  });

  it('a command whose save is fenced is not answered; read again, it is saved and answered, applied once', async () => {
    const kv = new FakeKv();
    const sink = new FakeSink();
    const clock = { now: 1_000_000 };
    const fenced = { on: false };
    const a = await hosting('w1', kv, sink, clock, fenced);
    const id = fleet[0]!.machineId;
    const cmd = { commandId: 'c1', machineId: id, command: { type: 'STOP' } };
    fenced.on = true; // the group is rebalancing while the command is applied
    await expect(a.command(cmd, 7)).rejects.toBeInstanceOf(CommandNotSaved);
    expect(kv.data.get(id)!.value.commands).toEqual({ offset: -1, applied: 0 });
    await expect(a.command(cmd, 7)).rejects.toBeInstanceOf(CommandNotSaved); // still not "duplicate"
    fenced.on = false;
    const answer = await a.command(cmd, 7);
    expect(answer).toMatchObject({ ok: true, owner: 'w1' });
    expect(answer.duplicate).toBeUndefined();
    expect(kv.data.get(id)!.value.commands).toEqual({ offset: 7, applied: 1 });
    expect(a.entity(id)!.actor.getSnapshot().context.state).toBe('IDLE');
    expect(await a.command(cmd, 7)).toMatchObject({ ok: true, duplicate: true });
  });

  it('a command applied but never saved before the shard moved is applied by the next owner', async () => {
    const kv = new FakeKv();
    const sink = new FakeSink();
    const clock = { now: 1_000_000 };
    const fenced = { on: false };
    const a = await hosting('w1', kv, sink, clock, fenced);
    const id = fleet[0]!.machineId;
    const cmd = { commandId: 'c1', machineId: id, command: { type: 'SET_SPEED', rpm: 900 } };
    fenced.on = true;
    await expect(a.command(cmd, 7)).rejects.toBeInstanceOf(CommandNotSaved);
    const b = await hosting('w2', kv, sink, clock);
    const answer = await b.command(cmd, 7);
    expect(answer).toMatchObject({ ok: true, owner: 'w2' });
    expect(answer.duplicate).toBeUndefined();
    expect(kv.data.get(id)!.value.commands).toEqual({ offset: 7, applied: 1 });
  });

  it('applies a command once, even when its record is read again by the next owner', async () => {
    const kv = new FakeKv();
    const sink = new FakeSink();
    const clock = { now: 1_000_000 };
    const a = await hosting('w1', kv, sink, clock);
    const id = fleet[0]!.machineId;
    const cmd = { commandId: 'c1', machineId: id, command: { type: 'SET_SPEED', rpm: 900 } };
    expect(await a.command(cmd, 7)).toMatchObject({ ok: true, owner: 'w1' });
    const b = await hosting('w2', kv, sink, clock);
    expect(await b.command(cmd, 7)).toMatchObject({ ok: true, duplicate: true });
    expect(kv.data.get(id)!.value.commands).toEqual({ offset: 7, applied: 1 });
    expect(await b.command({ ...cmd, command: { type: 'BOGUS' } }, 8)).toMatchObject({ ok: false });
    expect(await b.command({ ...cmd, machineId: 'M-9999' }, 9)).toMatchObject({
      ok: false,
      reason: 'machine M-9999 is not in the fleet registry',
    });
  });
});
