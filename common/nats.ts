import { connect, type NatsConnection } from 'nats';
import { type Config, formatAddress } from './config.js';
import { serviceAccount } from './credentials.js';
import type { ServiceRole } from './service-roles.js';

/**
 * Where a role's replies arrive (requests, JetStream answers, KV watches): one prefix per role,
 * so a role may subscribe to its own replies and not to another's (common/nats-permissions.ts).
 */
export const inboxPrefix = (role: ServiceRole) => `_INBOX.${role}`;

/**
 * A NATS connection, signed in as a service role (it may publish and subscribe only where that
 * role's permissions allow). Short-lived tools fail fast (no reconnect); long-running processes
 * pass `reconnect: true` and ride out a server restart.
 */
export const connectNats = async (
  config: Config,
  name: string,
  role: ServiceRole,
  opts: { reconnect?: boolean } = {},
): Promise<NatsConnection> => {
  const account = serviceAccount(config, 'nats', role);
  return connect({
    servers: formatAddress(config.nats),
    name,
    user: account.username,
    pass: account.password,
    inboxPrefix: inboxPrefix(role),
    timeout: 3_000,
    ...(opts.reconnect
      ? { maxReconnectAttempts: -1, reconnectTimeWait: 500, waitOnFirstConnect: true }
      : { maxReconnectAttempts: 0 }),
  });
};

/** A message body as JSON, or undefined when it is not JSON (never thrown: input from outside). */
export function safeJson(data: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(data));
  } catch {
    return undefined;
  }
}
