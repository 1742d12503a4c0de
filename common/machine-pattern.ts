/**
 * Which machines a rule applies to, as operators write it: `*` (every machine), `line-2/*` (a
 * line), `M-0009` (one machine), `line-1/M-00*` (a line and an id pattern). `*` matches any run
 * of characters within one part; nothing else is special.
 */
export interface MachineRef {
  machineId: string;
  line: string;
}

const PART = /^[\w*-]+$/;

/** Why a pattern is malformed, or undefined when it is fine. */
export function machinePatternProblem(pattern: string): string | undefined {
  const parts = pattern.split('/');
  if (parts.length > 2 || !parts.every((p) => PART.test(p)))
    return `"${pattern}" is not a machine pattern: expected "*", "line-2/*", "M-0009" or "line-1/M-00*"`;
  return undefined;
}

/**
 * A matcher for one part: `*` matches any run of characters, everything else itself. Greedy
 * with one backtrack point (the last star), so it takes time linear in pattern × id, never the
 * exponential backtracking a `.*` regular expression can fall into (`*a*a*a*a*a*a*b`).
 */
const glob = (pattern: string) => ({
  test(s: string): boolean {
    let p = 0;
    let i = 0;
    let star = -1;
    let mark = 0;
    while (i < s.length) {
      if (p < pattern.length && pattern[p] !== '*' && pattern[p] === s[i]) {
        p++;
        i++;
      } else if (p < pattern.length && pattern[p] === '*') {
        star = p++;
        mark = i;
      } else if (star >= 0) {
        p = star + 1;
        i = ++mark;
      } else return false;
    }
    while (pattern[p] === '*') p++;
    return p === pattern.length;
  },
});

export function machineMatcher(patterns: readonly string[]): (m: MachineRef) => boolean {
  const tests = patterns.map((pattern) => {
    const problem = machinePatternProblem(pattern);
    if (problem) throw new Error(problem);
    const [a, b] = pattern.split('/') as [string, string | undefined];
    if (b === undefined) {
      const id = glob(a);
      return (m: MachineRef) => id.test(m.machineId);
    }
    const line = glob(a);
    const id = glob(b);
    return (m: MachineRef) => line.test(m.line) && id.test(m.machineId);
  });
  return (m) => tests.some((t) => t(m));
}
