/**
 * The links between platform processes and servers, and the Toxiproxy proxy that sits on each
 * when FACTORY_LINK_PROXIES is on. One table, read by the Toxiproxy component (which proxies to
 * create), by Kafka (which extra listeners to open), by the supervisor (which address each
 * role's processes are given) and by the simulations' network injector (which proxy to impair).
 */
import { type Address, addressVariable, type Config, formatAddress } from './config.js';

/** The platform processes' roles, as `factory status` names their instances (`bridge-1`). */
export type LinkRole = 'bridge' | 'worker' | 'writer' | 'analytics' | 'workflows';
/** The servers at the other end, as `factory status` names them. */
export type LinkServer = 'kafka' | 'mosquitto' | 'influxdb' | 'temporal';

/**
 * Every proxied link, in a fixed order: link i's proxy listens on the port base + i. Append new
 * links at the end; reordering moves ports under a running stack.
 */
export const LINKS = [
  { from: 'bridge', to: 'kafka' },
  { from: 'bridge', to: 'mosquitto' },
  { from: 'worker', to: 'mosquitto' },
  { from: 'writer', to: 'influxdb' },
  { from: 'writer', to: 'kafka' },
  { from: 'analytics', to: 'kafka' },
  { from: 'workflows', to: 'temporal' },
] as const satisfies readonly { from: LinkRole; to: LinkServer }[];

/** Kafka listeners for proxied roles sit this far above their link's proxy port. */
const KAFKA_LISTENER_OFFSET = 20;

/** The variable through which a role's processes find each server (the one the role env overrides). */
const serverVariable: Record<LinkServer, string> = {
  kafka: addressVariable.kafka,
  mosquitto: addressVariable.mqtt,
  influxdb: addressVariable.influx,
  temporal: addressVariable.temporal,
};

/** The name of a link's proxy in Toxiproxy: `bridge-kafka`. */
export const linkProxyName = (from: LinkRole, to: LinkServer): string => `${from}-${to}`;

export interface LinkProxy {
  name: string;
  from: LinkRole;
  to: LinkServer;
  /** Where the role's processes connect: the proxy. */
  listen: Address;
  /** Where the proxy forwards: the server, or for Kafka the broker listener of this role. */
  upstream: Address;
}

/**
 * A Kafka client connects to the broker address the broker advertises, not to the address it
 * bootstrapped from: through a proxy to the CLIENT listener it would learn the real address
 * and go around the proxy. So each proxied role gets a listener of its own (BRIDGE, WRITER,
 * ANALYTICS), which advertises the role's proxy; the proxy forwards to that listener.
 */
export interface KafkaRoleListener {
  /** The listener name in server.properties. */
  name: string;
  /** Where the broker binds it (the proxy's upstream). */
  bind: Address;
  /** What the broker tells the role's clients to connect to (the proxy). */
  advertised: Address;
}

const proxyAt = (config: Config, i: number): Address => ({
  host: '127.0.0.1',
  port: config.linkProxies.portBase + i,
});

const kafkaListenerAt = (config: Config, i: number): Address => ({
  host: config.kafka.host,
  port: config.linkProxies.portBase + KAFKA_LISTENER_OFFSET + i,
});

const serverAddress = (config: Config, to: Exclude<LinkServer, 'kafka'>): Address =>
  ({ mosquitto: config.mqtt, influxdb: config.influx, temporal: config.temporal })[to];

/** Every link's proxy, in table order, whether or not the switch is on. */
export function linkProxies(config: Config): LinkProxy[] {
  return LINKS.map(({ from, to }, i) => ({
    name: linkProxyName(from, to),
    from,
    to,
    listen: proxyAt(config, i),
    upstream: to === 'kafka' ? kafkaListenerAt(config, i) : serverAddress(config, to),
  }));
}

/** The proxy of one link, or undefined when there is no such link. */
export const linkProxy = (config: Config, from: string, to: string): LinkProxy | undefined =>
  linkProxies(config).find((p) => p.from === from && p.to === to);

/** The extra Kafka listeners: one per role with a link to Kafka, only when the switch is on. */
export function kafkaRoleListeners(config: Config): KafkaRoleListener[] {
  if (!config.linkProxies.enabled) return [];
  return linkProxies(config)
    .filter((p) => p.to === 'kafka')
    .map((p) => ({ name: p.from.toUpperCase(), bind: p.upstream, advertised: p.listen }));
}

/**
 * What a role's processes get in their environment so that they connect through their proxies
 * (FACTORY_KAFKA_ADDR and FACTORY_MQTT_ADDR for a bridge, and so on); nothing when the switch
 * is off. Only the role's own processes get it: the supervisor's health checks and every other
 * command keep the real addresses.
 */
export function roleEnv(config: Config, role: LinkRole): Record<string, string> {
  if (!config.linkProxies.enabled) return {};
  return Object.fromEntries(
    linkProxies(config)
      .filter((p) => p.from === role)
      .map((p) => [serverVariable[p.to], formatAddress(p.listen)]),
  );
}
