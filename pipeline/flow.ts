/**
 * What the gateways say they publish, from their retained status heartbeats
 * (`factory/{site}/{line}/status/{gatewayId}`, every few seconds, with a `published` counter).
 * A pipeline stage compares it with what it receives: silence while gateways publish is a
 * stalled stage, whatever its sockets say.
 */
export class FlowWatch {
  private readonly samples = new Map<string, { at: number; published: number }[]>();
  private firstAt: number | undefined;

  constructor(
    private readonly clock: () => number,
    private readonly keepMs = 120_000,
  ) {}

  observe(topic: string, payload: Buffer): void {
    if (!/^factory\/[^/]+\/[^/]+\/status\/[^/]+$/.test(topic)) return;
    let published: unknown;
    try {
      published = (JSON.parse(payload.toString('utf8')) as { published?: unknown } | null)?.published;
    } catch {
      return; // not ours to judge; a malformed status is simply not counted
    }
    if (typeof published !== 'number' || !Number.isFinite(published) || published < 0) return;
    const now = this.clock();
    this.firstAt ??= now;
    const list = this.samples.get(topic) ?? [];
    list.push({ at: now, published });
    while (list.length > 1 && now - list[0]!.at > this.keepMs) list.shift();
    this.samples.set(topic, list);
  }

  /** How long heartbeats have been followed (a window shorter than this says nothing yet). */
  watchingFor(): number {
    return this.firstAt === undefined ? 0 : this.clock() - this.firstAt;
  }

  /** Messages all gateways together published within the last `windowMs`, as their heartbeats tell. */
  publishedWithin(windowMs: number): number {
    const since = this.clock() - windowMs;
    let total = 0;
    for (const list of this.samples.values()) {
      const last = list.at(-1);
      if (!last || last.at < since) continue;
      // The newest sample at or before the window's start (or the oldest we have).
      let base = list[0]!;
      for (const s of list) if (s.at <= since) base = s;
      // A restarted gateway counts from zero again: its whole count is new.
      total += last.published >= base.published ? last.published - base.published : last.published;
    }
    return total;
  }
}

/**
 * A consumer group falling behind: over the last `windowMs` its lag (records not yet committed)
 * never shrank from one sample to the next, ended higher than it began, and is not trivial.
 * A writer keeping up sees its lag rise and fall with every batch; one that is stuck, or slower
 * than what arrives, sees it only rise.
 */
export function lagGrowing(
  samples: { at: number; lag: number }[],
  windowMs: number,
  now: number,
  minLag = 100,
): boolean {
  const within = samples.filter((s) => now - s.at <= windowMs);
  // The window must be covered: the first sample near its start, at least three in all.
  if (within.length < 3 || within[0]!.at - (now - windowMs) > windowMs / 4) return false;
  for (let i = 1; i < within.length; i++) if (within[i]!.lag < within[i - 1]!.lag) return false;
  const last = within.at(-1)!.lag;
  return last > within[0]!.lag && last >= minLag;
}
