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

// Parts hold only word characters, '-' and '*' (checked above), so '*' is the one to translate.
const glob = (p: string) => new RegExp(`^${p.replaceAll('*', '.*')}$`);

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
