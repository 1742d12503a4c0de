/** Human output of the CLI: progress lines while waiting, a table at the end. */
export interface Output {
  line(text: string): void;
  /** A transient progress message: rewritten in place on a terminal, throttled otherwise. */
  progress(text: string): void;
}

export function consoleOutput(stream: NodeJS.WriteStream = process.stdout): Output {
  const tty = stream.isTTY === true;
  let transient = false;
  let lastPlain = 0;
  let lastKind = '';
  const clear = () => {
    if (transient) stream.write('\r\x1b[2K');
    transient = false;
  };
  return {
    line(text) {
      clear();
      stream.write(`${text}\n`);
    },
    progress(text) {
      if (tty) {
        clear();
        stream.write(`  … ${text}`);
        transient = true;
      } else {
        // Off a terminal (CI logs): a new kind of message at once, repeats of it every 15 s. Times
        // and durations ("3m8s of 5m", "(15.5s)") do not make a message new.
        const kind = text.replace(/(\d+(\.\d+)?(ms|[dhms]))+\b/g, '#');
        if (kind !== lastKind || Date.now() - lastPlain >= 15_000) {
          lastPlain = Date.now();
          lastKind = kind;
          stream.write(`  … ${text}\n`);
        }
      }
    },
  };
}

export function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

export const seconds = (ms: number) => `${(ms / 1000).toFixed(1)}s`;
