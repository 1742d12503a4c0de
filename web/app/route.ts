/**
 * Hash routing: the page is served at `/` only, so every view lives in `location.hash` and a
 * reload or a shared link opens the same view without the server knowing any page routes.
 */

export type Route =
  | { page: 'floor' }
  | { page: 'machine'; machineId: string }
  | { page: 'alarms' }
  | { page: 'shards' }
  | { page: 'pipeline' };

/** The route of a `location.hash` such as `#/machine/M-0001`; anything unknown is the floor. */
export function parseRoute(hash: string): Route {
  const path = hash.replace(/^#/, '').replace(/^\/+/, '');
  const [head = '', ...rest] = path.split('/');
  switch (head) {
    case 'machine': {
      const raw = rest.join('/');
      if (raw === '') return { page: 'floor' };
      try {
        return { page: 'machine', machineId: decodeURIComponent(raw) };
      } catch {
        return { page: 'floor' };
      }
    }
    case 'alarms':
      return { page: 'alarms' };
    case 'shards':
      return { page: 'shards' };
    case 'pipeline':
      return { page: 'pipeline' };
    default:
      return { page: 'floor' };
  }
}

/** The hash of a route, the inverse of `parseRoute`. */
export function routeHash(route: Route): string {
  return route.page === 'machine'
    ? machineHash(route.machineId)
    : `#/${route.page === 'floor' ? '' : route.page}`;
}

export function machineHash(machineId: string): string {
  return `#/machine/${encodeURIComponent(machineId)}`;
}
