import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { listScenarios, loadScenario, parseScenario, SCENARIOS_DIR, scenarioMachines } from './scenario.js';

/** A valid scenario whose lines 1-7 are fixed, so each bad case below knows its line numbers. */
const head = [
  'name: case', // 1
  'title: A case', // 2
  'description: a bad file', // 3
  'fleet: { machines: 30, workers: 2 }', // 4
  'duration: 4m', // 5
  'seed: 7', // 6
  'clock: wall', // 7
];
const parse = (...lines: string[]) => parseScenario([...head, ...lines].join('\n'), 'case.yaml');

/** The one problem of a bad file, as `line field: message`. */
function problem(r: ReturnType<typeof parse>): string {
  if (r.ok) throw new Error('expected the file to be refused');
  return r.problems.map((p) => `${p.line} ${p.field}: ${p.message}`).join('\n');
}

describe('the scenario library', () => {
  const listing = listScenarios();

  it('holds at least ten scenarios, every one valid and named after its file', () => {
    expect(listing.length).toBeGreaterThanOrEqual(10);
    for (const s of listing) expect(s.ok ? '' : s.problem, s.name).toBe('');
  });

  it.each(listing.map((s) => s.name))('%s parses', (name) => {
    const r = loadScenario(join(SCENARIOS_DIR, `${name}.yaml`));
    expect(r.ok ? '' : r.reason).toBe('');
    if (!r.ok) return;
    expect(r.value.name).toBe(name);
    // Wall-clock scenarios are short enough to run; the CI ones fit under 2.5 minutes.
    if (r.value.clock === 'wall') expect(r.value.durationMs).toBeLessThanOrEqual(6 * 60_000);
    if (name.startsWith('ci-')) expect(r.value.durationMs).toBeLessThanOrEqual(150_000);
  });

  it('gives typed entries: durations in ms, the INJECT_FAULT command as the machine parses it', () => {
    const r = loadScenario(join(SCENARIOS_DIR, 'sensor-faults.yaml'));
    if (!r.ok) throw new Error(r.reason);
    expect(r.value.timeline[1]).toEqual({
      kind: 'fault',
      atMs: 60_000,
      forMs: 180_000,
      target: { pattern: 'M-0017' },
      inject: {
        type: 'INJECT_FAULT',
        fault: 'sensor_drift',
        params: { field: 'temperatureC', ratePerMin: 15 },
      },
    });
    expect(r.value.expect).toMatchObject({ noLoss: true, noAlarms: false, recall: 1 });
    expect(scenarioMachines(r.value).map((m) => m.machineId)).toHaveLength(30);
  });

  it('reads every kind of platform fault', () => {
    const r = parse(
      'timeline:', // 8
      '  - { at: 10s, kill: worker-2 }',
      '  - { at: 20s, pause: bridge-1, for: 20s }',
      '  - { at: 30s, stop: kafka, for: 30s, graceful: true }',
      '  - { at: 90s, network: { from: bridge, to: kafka, latencyMs: 200, jitterMs: 50 }, for: 30s }',
      '  - { at: 2m, network: { from: writer, to: influxdb, bandwidthKBps: 64 }, for: 30s }',
      'expect: { noLoss: true, recovery: { within: 60s } }',
    );
    if (!r.ok) throw new Error(r.reason);
    expect(r.value.timeline).toEqual([
      { kind: 'kill', atMs: 10_000, process: { role: 'worker', index: 2, name: 'worker-2' } },
      { kind: 'pause', atMs: 20_000, forMs: 20_000, process: { role: 'bridge', index: 1, name: 'bridge-1' } },
      { kind: 'stop', atMs: 30_000, forMs: 30_000, server: 'kafka', graceful: true },
      {
        kind: 'network',
        atMs: 90_000,
        forMs: 30_000,
        network: { from: 'bridge', to: 'kafka', effect: { kind: 'latency', latencyMs: 200, jitterMs: 50 } },
      },
      {
        kind: 'network',
        atMs: 120_000,
        forMs: 30_000,
        network: { from: 'writer', to: 'influxdb', effect: { kind: 'bandwidth', kBps: 64 } },
      },
    ]);
  });
});

describe('a bad scenario names the line and the field', () => {
  const fault = (machines: string, params = '{ extraC: 150 }') => [
    'timeline:', // 8
    '  - at: 30s', // 9
    '    fault: overheat', // 10
    `    machines: ${machines}`, // 11
    `    params: ${params}`, // 12
    'expect: { noLoss: true }', // 13
  ];

  it('an unknown key', () => {
    expect(problem(parse('expect: { noLoss: true }', 'seeds: 3'))).toBe('9 seeds: Unrecognized key: "seeds"');
  });

  it('a duration written in words', () => {
    expect(
      problem(parse('timeline:', '  - at: 5 minutes', '    kill: worker-1', 'expect: { noLoss: true }')),
    ).toBe(
      '9 timeline[0].at: "5 minutes" is not a duration: expected a whole number and a unit, such as 90s, 4m, 2h or 7d',
    );
  });

  it('an entry at or after the end, or running past it', () => {
    expect(problem(parse('timeline:', '  - at: 4m', '    kill: worker-1', 'expect: { noLoss: true }'))).toBe(
      '9 timeline[0].at: 4m is not before the end of the scenario (duration 4m)',
    );
    expect(
      problem(
        parse('timeline:', '  - at: 3m', '    pause: bridge-1', '    for: 2m', 'expect: { noLoss: true }'),
      ),
    ).toBe('11 timeline[0].for: at 3m + for 2m ends after the scenario (duration 4m)');
  });

  it('two actions in one entry', () => {
    expect(
      problem(
        parse(
          'timeline:',
          '  - at: 30s',
          '    kill: worker-1',
          '    stop: kafka',
          'expect: { noLoss: true }',
        ),
      ),
    ).toMatch(/^11 timeline\[0\]\.stop: one action per entry, this one has kill and stop/);
  });

  it('a pause without for', () => {
    expect(
      problem(parse('timeline:', '  - at: 30s', '    pause: bridge-1', 'expect: { noLoss: true }')),
    ).toBe('9 timeline[0].for: required for pause: how long the process stays stopped before SIGCONT');
  });

  it('a worker the fleet does not run', () => {
    expect(problem(parse('timeline:', '  - at: 30s', '    kill: worker-5', 'expect: { noLoss: true }'))).toBe(
      '10 timeline[0].kill: worker-5 does not run: fleet.workers is 2, so worker-1 … worker-2',
    );
  });

  it('a platform fault, and no loss, on simulated time', () => {
    const r = parseScenario(
      [
        ...head.slice(0, 6),
        'clock: simulated',
        'timeline:',
        '  - { at: 30s, stop: kafka, for: 10s }',
        'expect: { noLoss: true }',
      ].join('\n'),
      'case.yaml',
    );
    expect(problem(r)).toBe(
      [
        '9 timeline[0].stop: clock: simulated runs the machine model and analytics only, with no platform to stop; use clock: wall',
        '10 expect.noLoss: clock: simulated has no pipeline to lose data in; use clock: wall',
      ].join('\n'),
    );
  });

  it('the wrong verb, a stray key, or a link that does not exist', () => {
    expect(
      problem(parse('timeline:', '  - { at: 30s, stop: worker-1, for: 10s }', 'expect: { noLoss: true }')),
    ).toBe('9 timeline[0].stop: worker-1 is a process: write "kill: worker-1" or "pause: worker-1"');
    expect(
      problem(parse('timeline:', '  - { at: 30s, kill: worker-1, for: 10s }', 'expect: { noLoss: true }')),
    ).toMatch(/^9 timeline\[0\]\.for: "for" does not belong to a kill entry: the keeper restarts/);
    const link = '  - { at: 30s, network: { from: bridge, to: influxdb, partition: true }, for: 10s }';
    expect(problem(parse('timeline:', link, 'expect: { noLoss: true }'))).toMatch(
      /^9 timeline\[0\]\.network\.to: bridge does not talk to influxdb; links: bridge→kafka/,
    );
  });

  it('a malformed machine pattern', () => {
    expect(problem(parse(...fault('line 2/*')))).toBe(
      '11 timeline[0].machines: "line 2/*" is not a machine pattern: expected "*", "line-2/*", "M-0009" or "line-1/M-00*"',
    );
  });

  it('a share above one', () => {
    expect(problem(parse(...fault('{ pattern: line-2/*, share: 1.5 }')))).toBe(
      '11 timeline[0].machines.share: expected a share of the matched machines, 0 < share ≤ 1',
    );
  });

  it('a machine the fleet does not have, or not on that line', () => {
    expect(problem(parse(...fault('M-0031')))).toBe(
      '11 timeline[0].machines: no machine M-0031 in a fleet of 30 (M-0001 … M-0030 on line-1, line-2)',
    );
    expect(problem(parse(...fault('line-2/M-0003')))).toBe(
      '11 timeline[0].machines: M-0003 is on line-1, not line-2',
    );
    expect(problem(parse(...fault('line-3/*')))).toMatch(
      /^11 timeline\[0\]\.machines: "line-3\/\*" matches no machine/,
    );
  });

  it('an unknown fault', () => {
    const r = parse(
      'timeline:',
      '  - at: 30s',
      '    fault: overheating',
      '    machines: M-0001',
      'expect: { noLoss: true }',
    );
    expect(problem(r)).toBe(
      '10 timeline[0].fault: unknown fault "overheating"; expected one of overheat, bearing_wear, jam, sensor_stuck, sensor_drift, sensor_dropout, noise_burst',
    );
  });

  it('a fault parameter the command schema refuses, or does not know', () => {
    expect(problem(parse(...fault('M-0001', '{ extraC: -5 }')))).toBe(
      '12 timeline[0].params.extraC: expected 0 < extraC ≤ 500',
    );
    expect(problem(parse(...fault('M-0001', '{ extra: 5 }')))).toBe(
      '12 timeline[0].params.extra: overheat has no parameter "extra"; it takes extraC',
    );
  });

  it('expectations that cannot be judged', () => {
    expect(problem(parse('expect: {}'))).toMatch(/^8 expect: expects nothing/);
    expect(problem(parse('expect: { noAlarms: true, recovery: { within: 30s } }'))).toBe(
      '8 expect.recovery: is about platform faults, and the timeline has none',
    );
    expect(
      problem(
        parse(...fault('M-0001').slice(0, -1), 'expect: { alarms: { within: 1m, rules: [overheat] } }'),
      ),
    ).toMatch(/^13 expect\.alarms\.rules\[0\]: no alarm rule "overheat" in analytics\/rules/);
    expect(
      problem(parse('timeline:', '  - { at: 3m30s, kill: worker-1 }', 'expect: { noLoss: true }')),
    ).toMatch(/^9 timeline\[0\]\.at: "3m30s" is not a duration/);
    expect(
      problem(
        parse('timeline:', '  - { at: 210s, kill: worker-1 }', 'expect: { recovery: { within: 60s } }'),
      ),
    ).toBe(
      '9 timeline[0].at: this fault ends at 3m30s, and recovery.within 1m runs past the end of the scenario (duration 4m)',
    );
  });
});

describe('files on disk', () => {
  const dir = mkdtempSync(join(tmpdir(), 'scenarios-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('a name must match its file; a bad file is listed with its first problem, not thrown', () => {
    writeFileSync(
      join(dir, 'good.yaml'),
      [...head.slice(1), 'name: good', 'expect: { noLoss: true }'].join('\n'),
    );
    writeFileSync(join(dir, 'renamed.yaml'), [...head, 'expect: { noLoss: true }'].join('\n'));
    expect(listScenarios(dir)).toEqual([
      {
        ok: true,
        file: join(dir, 'good.yaml'),
        name: 'good',
        title: 'A case',
        durationMs: 240_000,
        clock: 'wall',
      },
      {
        ok: false,
        file: join(dir, 'renamed.yaml'),
        name: 'renamed',
        problem: `${join(dir, 'renamed.yaml')}:1:7: name: is "case" but the file is named renamed.yaml; they must agree`,
      },
    ]);
  });

  it('a missing file is a problem, not an exception', () => {
    const r = loadScenario(join(dir, 'missing.yaml'));
    expect(r.ok ? '' : r.problems[0]?.message).toMatch(/^cannot read/);
  });
});
