/**
 * Calls to the web server's API. Failures are values with a sentence a person can act on: the
 * server's own `{error}` when it sent one, else what went wrong with the request.
 */
import { apiToken } from './auth.js';

export type Result<T> = { ok: true; value: T } | { ok: false; error: string };

/** Sent as `by` with every action, so alarm and ticket histories say where it came from. */
export const ACTOR = 'web';

export async function getJson<T>(path: string, signal?: AbortSignal): Promise<Result<T>> {
  try {
    const init: RequestInit = { headers: { accept: 'application/json' } };
    if (signal) init.signal = signal;
    return await readAnswer<T>(await fetch(path, init));
  } catch (err) {
    return failure(err);
  }
}

export async function postJson<T>(path: string, body: unknown): Promise<Result<T>> {
  const token = apiToken.value;
  if (token === null) return { ok: false, error: 'This page has no API token.' };
  try {
    const res = await fetch(path, {
      method: 'POST',
      headers: {
        accept: 'application/json',
        'content-type': 'application/json',
        authorization: `Bearer ${token}`,
      },
      body: JSON.stringify(body),
    });
    return await readAnswer<T>(res);
  } catch (err) {
    return failure(err);
  }
}

/** `/api/machines/M-1` with each part URI-encoded. */
export function apiPath(...parts: string[]): string {
  return `/api/${parts.map(encodeURIComponent).join('/')}`;
}

async function readAnswer<T>(res: Response): Promise<Result<T>> {
  let body: unknown = null;
  try {
    body = await res.json();
  } catch {
    body = null;
  }
  if (res.ok && body !== null) return { ok: true, value: body as T };
  const sentence = textField(body, 'error') ?? textField(body, 'reason');
  return {
    ok: false,
    error: sentence ?? `The server answered ${res.status}${res.statusText ? ` ${res.statusText}` : ''}.`,
  };
}

function textField(body: unknown, key: string): string | null {
  if (typeof body !== 'object' || body === null) return null;
  const value = (body as Record<string, unknown>)[key];
  return typeof value === 'string' && value !== '' ? value : null;
}

function failure(err: unknown): Result<never> {
  if (err instanceof DOMException && err.name === 'AbortError') return { ok: false, error: 'Cancelled.' };
  return { ok: false, error: 'The factory web server did not answer.' };
}
