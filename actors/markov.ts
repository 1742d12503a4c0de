import { CHAIN_STATES, type ChainState, type TransitionTable } from './params.js';

/** The full row-stochastic matrix over CHAIN_STATES (in that order), diagonal filled in. */
export function transitionMatrix(table: TransitionTable): number[][] {
  return CHAIN_STATES.map((from) => {
    const out = table[from];
    const row = CHAIN_STATES.map((to) => (to === from ? 0 : (out[to] ?? 0)));
    const leave = row.reduce((a, b) => a + b, 0);
    return row.map((p, j) => (CHAIN_STATES[j] === from ? 1 - leave : p));
  });
}

/**
 * The stationary distribution π of a row-stochastic matrix: solves πP = π with Σπ = 1 by
 * Gaussian elimination (one balance equation is replaced by the normalisation).
 */
export function stationaryDistribution(P: number[][]): number[] {
  const n = P.length;
  // (Pᵀ − I) π = 0, last row replaced by 1ᵀ π = 1.
  const a = Array.from({ length: n }, (_, i) =>
    Array.from({ length: n + 1 }, (_, j) => {
      if (i === n - 1) return 1;
      if (j === n) return 0;
      return P[j]![i]! - (i === j ? 1 : 0);
    }),
  );
  for (let col = 0; col < n; col++) {
    let pivot = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(a[r]![col]!) > Math.abs(a[pivot]![col]!)) pivot = r;
    [a[col], a[pivot]] = [a[pivot]!, a[col]!];
    const pr = a[col]!;
    if (Math.abs(pr[col]!) < 1e-15) throw new Error('the chain has no unique stationary distribution');
    for (let r = 0; r < n; r++) {
      if (r === col) continue;
      const row = a[r]!;
      const f = row[col]! / pr[col]!;
      for (let j = col; j <= n; j++) row[j]! -= f * pr[j]!;
    }
  }
  return a.map((row, i) => row[n]! / row[i]!);
}

/** Per state, the targets and their cumulative probabilities: one uniform draw picks the next state. */
export interface CompiledChain {
  targets: ChainState[][];
  cumulative: number[][];
}

export function compileChain(table: TransitionTable): CompiledChain {
  const targets: ChainState[][] = [];
  const cumulative: number[][] = [];
  for (const from of CHAIN_STATES) {
    const t: ChainState[] = [];
    const c: number[] = [];
    let acc = 0;
    for (const to of CHAIN_STATES) {
      const p = to === from ? 0 : (table[from][to] ?? 0);
      if (p <= 0) continue;
      acc += p;
      t.push(to);
      c.push(acc);
    }
    targets.push(t);
    cumulative.push(c);
  }
  return { targets, cumulative };
}

const INDEX: Record<ChainState, number> = { RUNNING: 0, IDLE: 1, MAINTENANCE: 2 };

/** The state after one tick from `from`, given a uniform draw u in [0, 1). */
export function chainNext(chain: CompiledChain, from: ChainState, u: number): ChainState {
  const i = INDEX[from];
  const cum = chain.cumulative[i]!;
  for (let k = 0; k < cum.length; k++) if (u < cum[k]!) return chain.targets[i]![k]!;
  return from;
}
