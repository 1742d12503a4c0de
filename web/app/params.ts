/**
 * The fault parameters a person types as `k=v, k=v`, turned into the `params` object of an
 * inject request. Numbers are sent as numbers so the owner's own parameter check sees the type
 * it validates; everything else goes as a string.
 */

export type Params = Record<string, string | number>;
export type ParamsResult = { ok: true; params: Params } | { ok: false; error: string };

const KEY = /^[A-Za-z_][\w.-]{0,39}$/;
const NUMBER = /^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i;

export function parseParams(text: string): ParamsResult {
  const params: Params = {};
  for (const raw of text.split(/[,;\n]/)) {
    const part = raw.trim();
    if (part === '') continue;
    const eq = part.indexOf('=');
    if (eq < 0) return { ok: false, error: `"${part}" is not k=v.` };
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (!KEY.test(key)) return { ok: false, error: `"${key}" is not a parameter name.` };
    if (Object.hasOwn(params, key)) return { ok: false, error: `${key} is given twice.` };
    if (value === '') return { ok: false, error: `${key} has no value.` };
    params[key] = NUMBER.test(value) ? Number(value) : value;
  }
  return { ok: true, params };
}
