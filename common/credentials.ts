import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { z } from 'zod';
import { type Config, paths } from './config.js';
import { SERVICE_ROLES, type ServiceRole } from './service-roles.js';

const account = z.object({ username: z.string().min(1), password: z.string().min(8) });
export type Account = z.infer<typeof account>;

/**
 * `<data dir>/credentials.json`. `mqtt` is the operator account of the contract (may
 * subscribe to everything); the bridge reads telemetry; each line's gateways share one
 * account that may publish only under `factory/{site}/{line}/#`. `api.token` authorises the
 * HTTP API's state-changing requests.
 */
const credentialsSchema = z.object({
  mqtt: account,
  mqttBridge: account,
  mqttGateways: z.record(z.string(), account),
  /** The HTTP API's bearer token for state-changing requests (absent in files of older versions). */
  api: z.object({ token: z.string().min(16) }).optional(),
  /**
   * Appended to the MQTT client ids of our own processes (bridge lanes, workers' connections):
   * a line's device account cannot guess them, so it can neither take over nor end their
   * sessions (absent in files of older versions).
   */
  mqttClientIdSuffix: z.string().min(8).optional(),
  /**
   * InfluxDB's accounts (absent in files of older versions): `admin` provisions, `writer` may
   * read and write database `factory`, `reader` may only read it (the web view, Grafana,
   * verify). `sharedSecret` signs InfluxDB's JWTs: without one, 1.x accepts forged tokens.
   */
  influx: z
    .object({ admin: account, writer: account, reader: account, sharedSecret: z.string().min(16) })
    .optional(),
  /**
   * One account per service role on Kafka (SASL/SCRAM-SHA-512, except `admin`, which signs in
   * with PLAIN because the broker itself uses it before any SCRAM credential exists) and on
   * NATS (absent in files of older versions). What each role may do is in
   * common/service-roles.ts.
   */
  kafka: z.record(z.string(), account).optional(),
  nats: z.record(z.string(), account).optional(),
});
export type Credentials = z.infer<typeof credentialsSchema>;

export interface LineRef {
  site: string;
  line: string;
}

export const lineKey = (l: LineRef) => `${l.site}/${l.line}`;

const secret = () => randomBytes(18).toString('base64url');

/**
 * Reads the credentials, generating any that are missing (first start, or a line added to
 * the fleet). Existing secrets are never rotated here, so running devices keep working.
 */
export function ensureCredentials(
  config: Config,
  lines: LineRef[],
): { credentials: Credentials; changed: boolean } {
  const file = paths(config).credentials;
  const current = existsSync(file) ? readCredentials(config) : undefined;
  const next: Credentials = current ?? {
    mqtt: { username: 'operator', password: secret() },
    mqttBridge: { username: 'bridge', password: secret() },
    mqttGateways: {},
  };
  let changed = !current;
  if (!next.api) {
    next.api = { token: randomBytes(24).toString('base64url') };
    changed = true;
  }
  if (!next.influx) {
    next.influx = {
      admin: { username: 'admin', password: secret() },
      writer: { username: 'writer', password: secret() },
      reader: { username: 'reader', password: secret() },
      sharedSecret: randomBytes(32).toString('base64url'),
    };
    changed = true;
  }
  if (!next.mqttClientIdSuffix) {
    next.mqttClientIdSuffix = randomBytes(9).toString('hex');
    changed = true;
  }
  for (const server of ['kafka', 'nats'] as const) {
    next[server] ??= {};
    const accounts = next[server];
    for (const role of SERVICE_ROLES[server]) {
      if (!accounts[role]) {
        accounts[role] = { username: role, password: secret() };
        changed = true;
      }
    }
  }
  for (const l of lines) {
    const key = lineKey(l);
    if (!next.mqttGateways[key]) {
      next.mqttGateways[key] = { username: `gw.${l.site}.${l.line}`, password: secret() };
      changed = true;
    }
  }
  if (changed) writePrivateFile(file, `${JSON.stringify(next, null, 2)}\n`);
  return { credentials: next, changed };
}

/**
 * Writes a file that holds secrets: readable by us alone from its first byte (a file of an older
 * version, created 644, is replaced, never rewritten in place), and atomically, so a reader or a
 * crash never sees half of it.
 */
export function writePrivateFile(file: string, text: string): void {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
}

export class CredentialsError extends Error {}

export function readCredentials(config: Config): Credentials {
  const file = paths(config).credentials;
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new CredentialsError(
      `Cannot read ${file} (${(err as Error).message}): run "factory up" once to generate it.`,
    );
  }
  const parsed = credentialsSchema.safeParse(raw);
  if (!parsed.success) {
    throw new CredentialsError(
      `${file} is malformed (${parsed.error.issues[0]?.message}); delete it and run "factory up" to generate new secrets.`,
    );
  }
  return parsed.data;
}

/** The operator account, with FACTORY_MQTT_USERNAME/PASSWORD taking precedence. */
export function operatorMqtt(config: Config): Account {
  return config.mqttOverride ?? readCredentials(config).mqtt;
}

/** The HTTP API's bearer token. */
export function apiToken(config: Config): string {
  const token = readCredentials(config).api?.token;
  if (!token) throw new CredentialsError('No API token yet: run "factory up" once to generate it.');
  return token;
}

/** An internal MQTT client id: the process's own name and the install's secret suffix. */
export function internalClientId(creds: Credentials, name: string): string {
  return creds.mqttClientIdSuffix ? `${name}-${creds.mqttClientIdSuffix}` : name;
}

export type InfluxRole = 'admin' | 'writer' | 'reader';

/** An InfluxDB account of the embedded stack, or a sentence saying how to get one. */
export function influxAccount(config: Config, role: InfluxRole): Account {
  const influx = readCredentials(config).influx;
  if (!influx)
    throw new CredentialsError('No InfluxDB accounts yet: run "factory up" once to generate them.');
  return influx[role];
}

/** The account a service role signs in with on Kafka or NATS, or a sentence saying how to get one. */
export function serviceAccount(config: Config, server: 'kafka' | 'nats', role: ServiceRole): Account {
  const found = readCredentials(config)[server]?.[role];
  if (!found)
    throw new CredentialsError(
      `No ${server} account for role ${role} yet: run "factory up" once to generate it.`,
    );
  return found;
}
