import { join } from 'node:path';
import { type Address, type Config, projectRoot } from '../../common/config.js';
import type { SpawnSpec } from '../supervisor/process.js';

/** One supervised process: how to configure, start, probe and provision it. */
export interface Component {
  name: string;
  /** What people connect to; shown by `factory up` and `factory status`. */
  address: string;
  /**
   * Addresses it binds, each with the variable that moves it (named when a port is taken).
   * `authenticated`: fit for the network (every client proves who it is: MQTT passwords, the
   * API token); any other bind is refused on an address other machines can reach.
   */
  binds: { addr: Address; variable: string; authenticated?: boolean }[];
  /** Writes config files and prepares storage; idempotent. */
  prepare(): Promise<void>;
  spawn(): SpawnSpec;
  /** Cheap: the server answers at all. Used while waiting for it to start. */
  ping(): Promise<void>;
  /**
   * `factory up` replaces it when it runs but does not answer, instead of waiting for it (the
   * keeper: a stuck supervisor heals nothing, and it holds no data).
   */
  replaceWhenStuck?: boolean;
  /** Creates what the contract needs on this server (topics, buckets, databases); idempotent. */
  provision?(): Promise<void>;
  /**
   * Real work, end to end, with contract resources present. Throws with a reason. Processes
   * that move data also say how much per second (`factory status` shows it beside health).
   */
  health(): Promise<string | { detail: string; rate: string }>;
}

export interface ComponentContext {
  config: Config;
  /** Where installed tools live (resolved by the installers). */
  tools: { kafkaLib: string; temporal: string; toxiproxy: string };
}

/** An unhealthy component that a restart would not cure (it works, only too slowly). */
export class NotCuredByRestart extends Error {}

/** Rejects after `ms` with a message naming what did not answer. */
export async function withTimeout<T>(what: string, ms: number, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** One of the project's own TypeScript processes, run by Node with tsx; its data dir on the command line. */
export function projectProcess(config: Config, script: string, args: string[]): SpawnSpec {
  const path = join(projectRoot, script);
  return {
    command: process.execPath,
    args: ['--import', 'tsx', path, ...args, '--data-dir', config.dataDir],
    cwd: projectRoot,
    marker: path,
  };
}

/** Loopback: an address only this machine can reach. */
export const isLoopback = (host: string): boolean =>
  host === 'localhost' || host === '::1' || host === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);

/**
 * One sentence per bind that would expose a server unfit for the network: Temporal's dev server
 * has no authentication, and Kafka's admin, NATS and InfluxDB send passwords in clear without
 * TLS (docs/security.md).
 */
export function exposedBinds(components: Component[]): string[] {
  return components.flatMap((c) =>
    c.binds
      .filter((b) => !b.authenticated && !isLoopback(b.addr.host))
      .map(
        (b) =>
          `${c.name} would listen on ${b.addr.host}:${b.addr.port}, reachable from other machines without authentication or TLS: keep ${b.variable} on 127.0.0.1 (docs/security.md says which servers may leave loopback).`,
      ),
  );
}
