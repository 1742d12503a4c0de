import { connect, type NatsConnection } from 'nats';
import { type Config, formatAddress } from './config.js';

/**
 * A NATS connection. Short-lived tools fail fast (no reconnect); long-running processes pass
 * `reconnect: true` and ride out a server restart.
 */
export const connectNats = (
  config: Config,
  name: string,
  opts: { reconnect?: boolean } = {},
): Promise<NatsConnection> =>
  connect({
    servers: formatAddress(config.nats),
    name,
    timeout: 3_000,
    ...(opts.reconnect
      ? { maxReconnectAttempts: -1, reconnectTimeWait: 500, waitOnFirstConnect: true }
      : { maxReconnectAttempts: 0 }),
  });

/** A message body as JSON, or undefined when it is not JSON (never thrown: input from outside). */
export function safeJson(data: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(data));
  } catch {
    return undefined;
  }
}
