/** The current route as a signal, following `hashchange`. */
import { signal } from '@preact/signals';
import { parseRoute, type Route } from './route.js';

export const route = signal<Route>(parseRoute(location.hash));

export function startRouter(): void {
  window.addEventListener('hashchange', () => {
    route.value = parseRoute(location.hash);
  });
}

export function navigate(hash: string): void {
  location.hash = hash;
}
