/**
 * Which seq numbers of each hosted machine are not yet settled (confirmed durable, or dropped).
 * The lowest unsettled seq bounds what the owner may call published: everything below it is in
 * Kafka or was dropped (and so counts as lost). A new owner that did not get a clean hand-off
 * announces the range above that mark as a failover gap.
 */
export class Outstanding {
  private readonly machines = new Map<string, { seqs: number[]; head: number; settled: Set<number> }>();

  emitted(machineId: string, seq: number): void {
    let m = this.machines.get(machineId);
    if (!m) {
      m = { seqs: [], head: 0, settled: new Set() };
      this.machines.set(machineId, m);
    }
    m.seqs.push(seq);
  }

  settled(machineId: string, seq: number): void {
    const m = this.machines.get(machineId);
    if (!m || m.head >= m.seqs.length) return;
    if (seq < m.seqs[m.head]!) return; // an older copy (a replay of an earlier run's spool)
    m.settled.add(seq);
    while (m.head < m.seqs.length && m.settled.delete(m.seqs[m.head]!)) m.head++;
    if (m.head === m.seqs.length) {
      m.seqs = [];
      m.head = 0;
      m.settled.clear();
    } else if (m.head > 1_024 && m.head * 2 > m.seqs.length) {
      m.seqs = m.seqs.slice(m.head);
      m.head = 0;
    }
  }

  /** The lowest seq of the machine not yet settled, or undefined when all are. */
  lowest(machineId: string): number | undefined {
    const m = this.machines.get(machineId);
    return m && m.head < m.seqs.length ? m.seqs[m.head] : undefined;
  }

  count(machineId: string): number {
    const m = this.machines.get(machineId);
    return m ? m.seqs.length - m.head : 0;
  }

  forget(machineId: string): void {
    this.machines.delete(machineId);
  }
}
