import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { legacySnapshots } from './legacy.js';

function dataDir(files: Record<string, unknown>) {
  const dir = mkdtempSync(join(tmpdir(), 'legacy-'));
  for (const [gw, body] of Object.entries(files)) {
    mkdirSync(join(dir, 'gateways', gw), { recursive: true });
    writeFileSync(join(dir, 'gateways', gw, 'snapshots.json'), JSON.stringify(body));
  }
  return dir;
}

describe('legacySnapshots', () => {
  it('continues a cleanly stopped gateway machine exactly, and skips after an unclean stop', () => {
    const dir = dataDir({
      'gw-a': {
        savedAt: 1_000,
        clean: true,
        tickMs: 1_000,
        machines: { 'M-0001': { context: { seq: 40, epoch: 1 } } },
      },
      'gw-b': {
        savedAt: 5_000,
        clean: false,
        tickMs: 1_000,
        machines: { 'M-0002': { context: { seq: 70, epoch: 0 } } },
      },
      'gw-c': 'torn',
    });
    const lookup = legacySnapshots(dir);
    expect(lookup('M-0001', 60_000)).toMatchObject({
      seq: 40,
      published: 40,
      reservedUpTo: 40,
      released: true,
      epoch: 1,
    });
    // Unclean: anything it could have published in the 10 s since its save is skipped.
    expect(lookup('M-0002', 15_000)).toMatchObject({
      seq: 70,
      published: 70,
      reservedUpTo: 81,
      released: false,
    });
    expect(lookup('M-0003', 15_000)).toBeUndefined();
  });
});
