import { describe, expect, it } from 'vitest';
import { coPartitioned } from './assigner.js';

const TWELVE = Array.from({ length: 12 }, (_, p) => p);
const TOPICS = { telemetry: TWELVE, 'alarm-commands': TWELVE };

const membersOf = (n: number) => Array.from({ length: n }, (_, i) => `member-${String.fromCharCode(97 + i)}`);

/** partition → member, per topic. */
function owners(plan: Map<string, Record<string, number[]>>, topic: string): Map<number, string[]> {
  const out = new Map<number, string[]>();
  for (const [member, assignment] of plan)
    for (const p of assignment[topic] ?? []) out.set(p, [...(out.get(p) ?? []), member]);
  return out;
}

describe('coPartitioned', () => {
  for (const n of [1, 2, 3, 5]) {
    describe(`${n} member(s) over 12 partitions`, () => {
      const members = membersOf(n);
      const plan = coPartitioned(members, TOPICS);

      it('has an entry for every member', () => {
        expect([...plan.keys()]).toEqual([...members].sort());
      });

      it('assigns every partition of every topic exactly once', () => {
        for (const topic of Object.keys(TOPICS)) {
          const o = owners(plan, topic);
          expect([...o.keys()].sort((x, y) => x - y)).toEqual(TWELVE);
          for (const [p, who] of o) expect(who, `${topic}/${p}`).toHaveLength(1);
        }
      });

      it('gives partition p of both topics to the same member', () => {
        const t = owners(plan, 'telemetry');
        const c = owners(plan, 'alarm-commands');
        for (const p of TWELVE) expect(c.get(p), `partition ${p}`).toEqual(t.get(p));
        for (const assignment of plan.values())
          expect(assignment['alarm-commands'] ?? []).toEqual(assignment.telemetry ?? []);
      });

      it('spreads the partitions evenly (p mod n in id order)', () => {
        const sorted = [...members].sort();
        const t = owners(plan, 'telemetry');
        for (const p of TWELVE) expect(t.get(p)).toEqual([sorted[p % n]]);
        const sizes = [...plan.values()].map((a) => a.telemetry?.length ?? 0);
        expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
      });

      it('does not depend on the order of the member ids', () => {
        const shuffled = [...members].reverse();
        const rotated = [...members.slice(1), ...members.slice(0, 1)];
        expect(coPartitioned(shuffled, TOPICS)).toEqual(plan);
        expect(coPartitioned(rotated, TOPICS)).toEqual(plan);
        expect([...coPartitioned(shuffled, TOPICS).keys()]).toEqual([...plan.keys()]);
      });
    });
  }

  it('no members → an empty map', () => {
    const plan = coPartitioned([], TOPICS);
    expect(plan).toBeInstanceOf(Map);
    expect(plan.size).toBe(0);
  });

  it('does not modify its input', () => {
    const members = ['z', 'a', 'm'];
    coPartitioned(members, TOPICS);
    expect(members).toEqual(['z', 'a', 'm']);
  });
});
