/**
 * The API token arrives once, in the link `factory up` prints (`/#token=<token>`). It is taken
 * out of the hash so it neither stays in the address bar nor gets in the way of hash routing.
 */

export interface HashToken {
  /** The token, or null when the hash carries none. */
  token: string | null;
  /** The hash without the token part (`''` when nothing is left). */
  hash: string;
}

/**
 * Splits `#token=abc` or `#/alarms&token=abc` into the token and the rest of the hash. Parts are
 * separated by `&`; the token is URI-decoded; an empty `token=` counts as no token.
 */
export function extractToken(hash: string): HashToken {
  const body = hash.replace(/^#/, '');
  if (body === '') return { token: null, hash: '' };
  let token: string | null = null;
  const kept: string[] = [];
  for (const part of body.split('&')) {
    if (part.startsWith('token=')) {
      const raw = part.slice('token='.length);
      if (raw !== '') token = safeDecode(raw);
    } else if (part !== '') {
      kept.push(part);
    }
  }
  if (token === null) return { token: null, hash };
  return { token, hash: kept.length > 0 ? `#${kept.join('&')}` : '' };
}

function safeDecode(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}
