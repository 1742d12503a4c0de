/** Why the action buttons are greyed out, and how to get them. */
import { apiToken } from './auth.js';

export function TokenHint() {
  if (apiToken.value !== null) return null;
  return (
    <p class="hint">
      Open the link with <code>#token=…</code> that <code>factory up</code> printed (or{' '}
      <code>factory web</code>) to act from this page.
    </p>
  );
}

export function hasToken(): boolean {
  return apiToken.value !== null;
}
