import { appendFileSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';

export interface SpoolOptions {
  dir: string;
  /** Total bytes on disk before the oldest segment is dropped. */
  maxBytes: number;
  /** A segment is closed (and may be handed out for sending) past this size. */
  segmentBytes: number;
  /** The lines of a segment dropped because the spool was full (so the owner can account for them). */
  onDrop?: (lines: string[]) => void;
}

export interface SpoolStats {
  bytes: number;
  segments: number;
  /** Messages dropped because the spool was full, since this process started. */
  dropped: number;
  /** Messages written to disk since this process started. */
  spooled: number;
}

interface Segment {
  id: number;
  bytes: number;
  lines: number;
  /** Handed out for sending: it stays on disk until released (all its messages acknowledged). */
  taken: boolean;
  /** Left by an earlier run, which may have died mid-append: never appended to again. */
  sealed?: boolean;
}

const name = (id: number) => `${String(id).padStart(10, '0')}.seg`;

/**
 * A bounded on-disk FIFO of text lines (store and forward). New lines are appended to the tail
 * segment; the oldest segment is handed out whole and deleted only once the caller says all of
 * its lines were delivered, so a crash between the two replays a segment (duplicates) rather
 * than losing it. When full, the oldest segment not being sent is dropped and counted.
 */
export class DiskSpool {
  private readonly segments: Segment[] = [];
  // Ids start high so that prepend() can always take a lower one and keep file order = age.
  private nextId = 1_000_000_000;
  private dropped = 0;
  private spooled = 0;
  private bytes = 0;

  constructor(private readonly opts: SpoolOptions) {
    mkdirSync(opts.dir, { recursive: true });
    // What an earlier run left is still undelivered: keep it, oldest first.
    for (const f of readdirSync(opts.dir)
      .filter((f) => /^\d{10}\.seg$/.test(f))
      .sort()) {
      const path = join(opts.dir, f);
      const text = readFileSync(path, 'utf8');
      const lines = text ? text.split('\n').length - 1 : 0;
      const id = Number(f.slice(0, 10));
      const bytes = statSync(path).size;
      this.segments.push({ id, bytes, lines, taken: false, sealed: true });
      this.bytes += bytes;
      this.nextId = Math.max(this.nextId, id + 1);
    }
  }

  /** Lines waiting on disk that nobody has taken yet. */
  get hasUntaken(): boolean {
    return this.segments.some((s) => !s.taken && s.lines > 0);
  }

  get stats(): SpoolStats {
    return {
      bytes: this.bytes,
      segments: this.segments.length,
      dropped: this.dropped,
      spooled: this.spooled,
    };
  }

  append(lines: string[]): void {
    if (lines.length === 0) return;
    let tail = this.segments.at(-1);
    if (!tail || tail.taken || tail.sealed || tail.bytes >= this.opts.segmentBytes) {
      tail = { id: this.nextId++, bytes: 0, lines: 0, taken: false };
      this.segments.push(tail);
    }
    const text = `${lines.join('\n')}\n`;
    appendFileSync(join(this.opts.dir, name(tail.id)), text);
    const size = Buffer.byteLength(text);
    tail.bytes += size;
    this.bytes += size;
    tail.lines += lines.length;
    this.spooled += lines.length;
    this.enforceLimit();
  }

  /**
   * Puts lines back in front of everything on disk (a graceful stop saving what it held in
   * memory, which is older than anything spooled since).
   */
  prepend(lines: string[]): void {
    if (lines.length === 0) return;
    const id = Math.min(this.nextId, ...this.segments.map((s) => s.id)) - 1;
    const text = `${lines.join('\n')}\n`;
    appendFileSync(join(this.opts.dir, name(id)), text);
    const bytes = Buffer.byteLength(text);
    this.segments.unshift({ id, bytes, lines: lines.length, taken: false });
    this.bytes += bytes;
  }

  /** Segments handed out and not yet released. */
  takenIds(): number[] {
    return this.segments.filter((s) => s.taken).map((s) => s.id);
  }

  /** The oldest untaken segment's lines, in order; release(id) once all are delivered. */
  take(): { id: number; lines: string[] } | undefined {
    const seg = this.segments.find((s) => !s.taken && s.lines > 0);
    if (!seg) return undefined;
    seg.taken = true;
    const text = readFileSync(join(this.opts.dir, name(seg.id)), 'utf8');
    return { id: seg.id, lines: text.split('\n').slice(0, -1) };
  }

  release(id: number): void {
    const i = this.segments.findIndex((s) => s.id === id);
    if (i < 0) return;
    this.bytes -= this.segments[i]!.bytes;
    this.segments.splice(i, 1);
    rmSync(join(this.opts.dir, name(id)), { force: true });
  }

  private enforceLimit() {
    while (this.bytes > this.opts.maxBytes) {
      // Never the tail being written nor a segment in flight: drop the oldest waiting one.
      const victim = this.segments.find((s, i) => !s.taken && i < this.segments.length - 1);
      if (!victim) return;
      this.dropped += victim.lines;
      if (this.opts.onDrop) {
        try {
          this.opts.onDrop(
            readFileSync(join(this.opts.dir, name(victim.id)), 'utf8')
              .split('\n')
              .slice(0, -1),
          );
        } catch {
          // unreadable: counted as dropped all the same
        }
      }
      this.release(victim.id);
    }
  }
}
