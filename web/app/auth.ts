/**
 * The API token, kept in localStorage so the link `factory up` printed is needed once per
 * browser. Without it the page is read-only: every POST needs `Authorization: Bearer`.
 */
import { signal } from '@preact/signals';
import { extractToken } from './token.js';

const STORAGE_KEY = 'factory.apiToken';

export const apiToken = signal<string | null>(readStored());

/** Moves a `#token=…` of the address into storage and out of the address bar and history. */
export function captureTokenFromUrl(): void {
  const { token, hash } = extractToken(location.hash);
  if (token === null) return;
  try {
    localStorage.setItem(STORAGE_KEY, token);
  } catch {
    // Storage may be off (private mode, policy): the token still works until the page closes.
  }
  apiToken.value = token;
  history.replaceState(history.state, '', `${location.pathname}${location.search}${hash}`);
}

function readStored(): string | null {
  try {
    return localStorage.getItem(STORAGE_KEY);
  } catch {
    return null;
  }
}
