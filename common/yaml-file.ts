import { readFileSync } from 'node:fs';
import { type Document, isMap, isNode, isScalar, LineCounter, parseDocument } from 'yaml';
import type { z } from 'zod';

export interface YamlProblem {
  file: string;
  line: number;
  column: number;
  field: string;
  message: string;
}

export type YamlResult<T> = { ok: true; value: T } | { ok: false; reason: string; problems: YamlProblem[] };

type Path = readonly PropertyKey[];

/** `rules[2].limits.high`: how an operator reads a path, not how zod stores it. */
const formatField = (path: Path): string =>
  path.reduce<string>((out, key) => {
    if (typeof key === 'number') return `${out}[${key}]`;
    const name = String(key);
    return out === '' ? name : `${out}.${name}`;
  }, '');

const formatProblem = (p: YamlProblem): string =>
  `${p.file}:${p.line}:${p.column}: ${p.field === '' ? '' : `${p.field}: `}${p.message}`;

const fail = <T>(problems: YamlProblem[]): YamlResult<T> => ({
  ok: false,
  reason: problems.map(formatProblem).join('\n'),
  problems,
});

const errorMessage = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** Start offset of the deepest node that exists along `path`; a missing key points at its parent. */
const offsetAlong = (doc: Document, path: Path): number | undefined => {
  for (let n = path.length; n >= 0; n--) {
    const node: unknown = doc.getIn(path.slice(0, n), true);
    if (isNode(node) && node.range) return node.range[0];
  }
  return undefined;
};

/** An unknown key is best shown where it is written, not where its enclosing map starts. */
const offsetOfKey = (doc: Document, path: Path, key: string): number | undefined => {
  const map: unknown = doc.getIn(path, true);
  if (!isMap(map)) return undefined;
  const pair = map.items.find((p) => isScalar(p.key) && String(p.key.value) === key);
  return isScalar(pair?.key) ? pair.key.range?.[0] : undefined;
};

/** Parses YAML text against a zod schema; every problem names file, line (1-based), column and field path. */
export function parseYamlText<S extends z.ZodType>(
  text: string,
  file: string,
  schema: S,
): YamlResult<z.output<S>> {
  const lineCounter = new LineCounter();
  const at = (offset: number | undefined, field: string, message: string): YamlProblem => {
    // Offset 0 and "nowhere" both land on 1:1, which is where a whole-document problem belongs.
    const { line, col } = offset === undefined ? { line: 1, col: 1 } : lineCounter.linePos(offset);
    return { file, line, column: col, field, message };
  };

  try {
    // prettyErrors off: its messages embed a multi-line source excerpt that would break the one-line reason format.
    const doc = parseDocument(text, { lineCounter, prettyErrors: false });
    if (doc.errors.length > 0) {
      // Validating a half-parsed document would only add noise on top of the real mistake.
      return fail(doc.errors.map((err) => at(err.pos[0], '', err.message)));
    }

    // An empty document becomes null and goes through the schema like any value, so its own error shows.
    const parsed = schema.safeParse(doc.toJS());
    if (parsed.success) return { ok: true, value: parsed.data };

    return fail(
      parsed.error.issues.map((issue) => {
        if (issue.code === 'unrecognized_keys' && issue.keys[0] !== undefined) {
          const key = issue.keys[0];
          const offset = offsetOfKey(doc, issue.path, key) ?? offsetAlong(doc, issue.path);
          return at(offset, formatField([...issue.path, key]), issue.message);
        }
        return at(offsetAlong(doc, issue.path), formatField(issue.path), issue.message);
      }),
    );
  } catch (e) {
    // toJS (unresolved aliases, alias limits) and async refinements throw; callers were promised a result, not an exception.
    return fail([at(undefined, '', errorMessage(e))]);
  }
}

/** Reads the file (a missing/unreadable file is a problem at line 1 with field '' and a message naming the file and the OS error) then parseYamlText. */
export function loadYamlFile<S extends z.ZodType>(path: string, schema: S): YamlResult<z.output<S>> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    return fail([
      { file: path, line: 1, column: 1, field: '', message: `cannot read ${path}: ${errorMessage(e)}` },
    ]);
  }
  return parseYamlText(text, path, schema);
}
