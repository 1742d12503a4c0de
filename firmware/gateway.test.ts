import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { deriveFleet, loadFleet } from '../actors/index.js';
import { silentLogger } from '../common/log.js';
import { Gateway } from './gateway.js';

// No broker: the gateway spools, which is all these tests need to look at.
const scratch = mkdtempSync(join(tmpdir(), 'gateway-unit-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const fleet = loadFleet();
if (!fleet.ok) throw new Error(fleet.reason);
const machines = deriveFleet(fleet.fleet).machines.slice(0, 3);
let clock = 1_800_000_000_000;

function gateway(name: string, hosted = machines, peers: string[] = []) {
  return new Gateway({
    gatewayId: name,
    site: 'plant-1',
    line: 'line-1',
    machines: hosted,
    tickMs: 1_000,
    snapshotFile: join(scratch, name, 'snapshots.json'),
    peerSnapshotFiles: () => peers,
    snapshotEveryMs: 3_600_000,
    clock: () => clock,
    log: silentLogger,
    publisher: {
      url: 'mqtt://127.0.0.1:1',
      username: 'u',
      password: 'p',
      spool: { dir: join(scratch, name, 'spool'), maxBytes: 1 << 20, segmentBytes: 1 << 14 },
      maxInflight: 10,
      maxMemory: 100,
      backoffMinMs: 60_000,
      backoffMaxMs: 60_000,
    },
  });
}

const spooledLines = (name: string) =>
  readdirSync(join(scratch, name, 'spool')).flatMap((f) =>
    readFileSync(join(scratch, name, 'spool', f), 'utf8')
      .trim()
      .split('\n'),
  );

describe('gateway snapshots', () => {
  it('continues seq after a clean restart and when a machine moves to another gateway', async () => {
    const a = gateway('gw-a');
    a.start();
    for (let i = 0; i < 5; i++) {
      clock += 1_000;
      a.tick();
    }
    expect(a.lastSeqs()[machines[1]!.machineId]).toBe(5);
    await a.stop(0);
    expect(spooledLines('gw-a')).toHaveLength(15); // undelivered telemetry kept on disk

    // The fleet was rescaled: machine 2 is now served by gateway b.
    const b = gateway('gw-b', [machines[1]!], [join(scratch, 'gw-a', 'snapshots.json')]);
    b.start();
    clock += 1_000;
    b.tick();
    expect(b.lastSeqs()).toEqual({ [machines[1]!.machineId]: 6 });
    await b.stop(0);
  });

  it('after a crash skips the seq numbers it may have used and says so on the events topic', async () => {
    const c = gateway('gw-c');
    c.start();
    clock += 1_000;
    c.tick();
    (c as unknown as { save(clean: boolean): void }).save(false); // the periodic save
    const crashed = join(scratch, 'crashed.json');
    copyFileSync(join(scratch, 'gw-c', 'snapshots.json'), crashed);
    await c.stop(0);

    clock += 10_000; // down for 10 s: up to 10 more messages may have gone out after the save
    const d = gateway('gw-d', machines, [crashed]);
    d.start();
    const id = machines[0]!.machineId;
    expect(d.lastSeqs()[id]).toBe(1 + 11);
    const events = spooledLines('gw-d')
      .map((l) => JSON.parse(l) as [string, string])
      .filter(([topic]) => topic.endsWith(`${id}/events`))
      .map(([, payload]) => JSON.parse(payload));
    expect(events).toEqual([
      { v: 1, type: 'resume', machineId: id, epoch: 1, skippedFrom: 2, skippedTo: 12, ts: clock },
    ]);
    await d.stop(0);
  });
});
