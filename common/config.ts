import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { z } from 'zod';

/** Project root: everything relative (data dir, infra files) is resolved against it. */
export const projectRoot = resolve(import.meta.dirname, '..');

/** A `host:port` address as operators write it in the environment. */
export interface Address {
  host: string;
  port: number;
}

export const formatAddress = (a: Address): string => `${a.host}:${a.port}`;

const addressSchema = z
  .string()
  .trim()
  .regex(/^[A-Za-z0-9.-]+:\d{1,5}$/, 'expected host:port, for example 127.0.0.1:1883')
  .transform((s, ctx): Address => {
    const i = s.lastIndexOf(':');
    const port = Number(s.slice(i + 1));
    if (port < 1 || port > 65535) {
      ctx.addIssue({ code: 'custom', message: `port ${port} is out of range 1-65535` });
      return z.NEVER;
    }
    return { host: s.slice(0, i), port };
  });

const address = (fallback: string) => z.string().default(fallback).pipe(addressSchema);

const positiveInt = z.coerce.number().int().positive();

/** A switch as operators write it: 1/0, true/false, on/off, yes/no (any case); off when unset. */
const flag = z
  .string()
  .default('0')
  .transform((s) => s.trim().toLowerCase())
  .pipe(z.enum(['1', '0', 'true', 'false', 'on', 'off', 'yes', 'no'], { error: 'expected 1 or 0' }))
  .transform((s) => s === '1' || s === 'true' || s === 'on' || s === 'yes');

/**
 * Every setting the environment may override, with its default. The names are part of the
 * operator contract (README, docs/runbook.md): rename nothing without a migration note.
 */
const envSchema = z.object({
  FACTORY_DATA_DIR: z.string().default('.data'),
  FACTORY_FLEET: z.string().min(1).default('actors/fleets/default.yaml'),
  FACTORY_CACHE_DIR: z.string().default(join(homedir(), '.cache', 'factory-floor')),
  FACTORY_MQTT_ADDR: address('127.0.0.1:1883'),
  FACTORY_NATS_ADDR: address('127.0.0.1:4222'),
  FACTORY_KAFKA_ADDR: address('127.0.0.1:9092'),
  FACTORY_KAFKA_CONTROLLER_ADDR: address('127.0.0.1:9093'),
  FACTORY_INFLUX_ADDR: address('127.0.0.1:8086'),
  FACTORY_INFLUX_RPC_ADDR: address('127.0.0.1:8088'),
  FACTORY_TEMPORAL_ADDR: address('127.0.0.1:7233'),
  FACTORY_TEMPORAL_UI_ADDR: address('127.0.0.1:8233'),
  FACTORY_HTTP_ADDR: address('127.0.0.1:3000'),
  /** Extra names the web server answers to (a reverse proxy's, a LAN name): `name` or `name:port`, comma-separated. */
  FACTORY_WEB_ALLOWED_HOSTS: z
    .string()
    .default('')
    .transform((v) =>
      v
        .split(',')
        .map((h) => h.trim().toLowerCase())
        .filter((h) => h.length > 0),
    )
    .pipe(
      z
        .array(
          z
            .string()
            .regex(/^[a-z0-9.-]+(:\d{1,5})?$|^\[[0-9a-f:]+\](:\d{1,5})?$/, 'expected host or host:port'),
        )
        .max(32),
    ),
  FACTORY_INFLUX_DB: z.string().regex(/^\w+$/).default('factory'),
  FACTORY_TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  FACTORY_TELEMETRY_PARTITIONS: positiveInt.default(12),
  FACTORY_COMMAND_PARTITIONS: positiveInt.default(16),
  FACTORY_KAFKA_HEAP: z
    .string()
    .regex(/^\d+[mMgG]$/)
    .default('768m'),
  FACTORY_BRIDGES: positiveInt.max(16).default(2),
  FACTORY_BRIDGE_LANES: positiveInt.max(256).default(48),
  FACTORY_WRITERS: positiveInt.max(16).default(1),
  /** Analytics processors (alarms, KPIs); they share the telemetry partitions. */
  FACTORY_ANALYTICS: positiveInt.max(16).default(1),
  /** Workflow workers (Temporal worker + alarm dispatcher + state watch), sharing task queue and alarms. */
  FACTORY_WORKFLOW_WORKERS: z.coerce.number().int().min(0).max(8).default(1),
  /** The escalation configuration (ladders, channels, ticket policy). */
  FACTORY_ESCALATION: z.string().min(1).default('workflows/escalation.yaml'),
  /**
   * End-to-end confirmation from bridges to gateways (ADR 0003). `off` restores ack-by-broker
   * only, which loses what a crashing broker held: for measuring its cost, not for plants.
   */
  FACTORY_CONFIRMATIONS: z.enum(['on', 'off'], { error: 'expected "on" or "off"' }).default('on'),
  /** Worker processes hosting the machine actors (`factory up --workers` overrides). */
  FACTORY_WORKERS: positiveInt.max(64).default(2),
  /** Telemetry period per machine: a large fleet at 10 s fits the pipeline that 1 s would flood. */
  FACTORY_TELEMETRY_PERIOD_MS: positiveInt.min(100).max(3_600_000).default(1_000),
  FACTORY_SNAPSHOT_EVERY_MS: positiveInt.min(1_000).default(10_000),
  /** Seq numbers a worker reserves per machine at a time: the largest possible failover gap. */
  FACTORY_SEQ_BLOCK: positiveInt.min(10).max(1_000_000).default(60),
  /** The worker group's session: a silent worker loses its shards after this long. */
  FACTORY_WORKER_SESSION_MS: positiveInt.min(1_000).max(60_000).default(3_000),
  FACTORY_METRICS_PORT_BASE: positiveInt.max(65000).default(9400),
  /**
   * Puts a Toxiproxy on every link between a platform process and a server (common/links.ts),
   * so that simulations can add latency, limit bandwidth or partition a link. Off: direct links.
   */
  FACTORY_LINK_PROXIES: flag,
  /** Toxiproxy's HTTP API, where toxics are added and removed. */
  FACTORY_TOXIPROXY_ADDR: address('127.0.0.1:8474'),
  /** Link i's proxy listens on base+i, the Kafka listener behind it on base+20+i (common/links.ts). */
  FACTORY_PROXY_PORT_BASE: positiveInt.min(1024).max(65000).default(18500),
  /**
   * A Grafana 10+ binary (`grafana`) for `factory up` to start with the dashboards provisioned.
   * None is installed by the platform (none reaches this machine's registries): unset and no
   * `grafana` on PATH, no Grafana.
   */
  FACTORY_GRAFANA_BIN: z.string().min(1).optional(),
  /** Grafana's home (its conf/ and public/); default: the directory above the binary's bin/. */
  FACTORY_GRAFANA_HOME: z.string().min(1).optional(),
  /** Grafana's web address; 3000, Grafana's own default, is the platform's web view. */
  FACTORY_GRAFANA_ADDR: address('127.0.0.1:3001'),
  FACTORY_STOP_TIMEOUT_MS: positiveInt.default(20_000),
  FACTORY_START_TIMEOUT_MS: positiveInt.default(180_000),
  /** Secrets: when set they override what `factory up` generated into credentials.json. */
  FACTORY_MQTT_USERNAME: z.string().min(1).optional(),
  FACTORY_MQTT_PASSWORD: z.string().min(1).optional(),
});

export type Env = z.infer<typeof envSchema>;

export interface Config {
  dataDir: string;
  /** The fleet file `factory up` runs (one gateway per line). */
  fleetFile: string;
  cacheDir: string;
  mqtt: Address;
  nats: Address;
  kafka: Address;
  kafkaController: Address;
  kafkaHeap: string;
  influx: Address;
  influxRpc: Address;
  influxDb: string;
  temporal: Address;
  temporalUi: Address;
  temporalNamespace: string;
  escalationFile: string;
  http: Address;
  /** Host names the web server answers to besides loopback and its listen address. */
  httpAllowedHosts: string[];
  partitions: { telemetry: number; commands: number };
  pipeline: {
    bridges: number;
    lanes: number;
    writers: number;
    analytics: number;
    workflowWorkers: number;
    metricsPortBase: number;
    confirmations: boolean;
  };
  workers: {
    count: number;
    periodMs: number;
    snapshotEveryMs: number;
    seqBlock: number;
    sessionTimeoutMs: number;
  };
  /** Toxiproxy on each process→server link (FACTORY_LINK_PROXIES); the links are in common/links.ts. */
  linkProxies: { enabled: boolean; api: Address; portBase: number };
  /** A Grafana binary named by FACTORY_GRAFANA_BIN, its home and address (started only when named or on PATH). */
  grafana: { bin: string | undefined; home: string | undefined; addr: Address };
  stopTimeoutMs: number;
  startTimeoutMs: number;
  mqttOverride: { username: string; password: string } | undefined;
}

/** A bad environment is an operator error: it names the variable and what it expects. */
export class ConfigError extends Error {}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const name = String(issue.path[0] ?? 'environment');
    throw new ConfigError(`${name}=${JSON.stringify(env[name] ?? '')} is invalid: ${issue.message}.`);
  }
  const e = parsed.data;
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(projectRoot, p));
  return {
    dataDir: abs(e.FACTORY_DATA_DIR),
    fleetFile: abs(e.FACTORY_FLEET),
    cacheDir: abs(e.FACTORY_CACHE_DIR),
    mqtt: e.FACTORY_MQTT_ADDR,
    nats: e.FACTORY_NATS_ADDR,
    kafka: e.FACTORY_KAFKA_ADDR,
    kafkaController: e.FACTORY_KAFKA_CONTROLLER_ADDR,
    kafkaHeap: e.FACTORY_KAFKA_HEAP,
    influx: e.FACTORY_INFLUX_ADDR,
    influxRpc: e.FACTORY_INFLUX_RPC_ADDR,
    influxDb: e.FACTORY_INFLUX_DB,
    temporal: e.FACTORY_TEMPORAL_ADDR,
    temporalUi: e.FACTORY_TEMPORAL_UI_ADDR,
    temporalNamespace: e.FACTORY_TEMPORAL_NAMESPACE,
    escalationFile: abs(e.FACTORY_ESCALATION),
    http: e.FACTORY_HTTP_ADDR,
    httpAllowedHosts: e.FACTORY_WEB_ALLOWED_HOSTS,
    partitions: { telemetry: e.FACTORY_TELEMETRY_PARTITIONS, commands: e.FACTORY_COMMAND_PARTITIONS },
    pipeline: {
      bridges: e.FACTORY_BRIDGES,
      lanes: e.FACTORY_BRIDGE_LANES,
      writers: e.FACTORY_WRITERS,
      analytics: e.FACTORY_ANALYTICS,
      workflowWorkers: e.FACTORY_WORKFLOW_WORKERS,
      metricsPortBase: e.FACTORY_METRICS_PORT_BASE,
      confirmations: e.FACTORY_CONFIRMATIONS === 'on',
    },
    workers: {
      count: e.FACTORY_WORKERS,
      periodMs: e.FACTORY_TELEMETRY_PERIOD_MS,
      snapshotEveryMs: e.FACTORY_SNAPSHOT_EVERY_MS,
      seqBlock: e.FACTORY_SEQ_BLOCK,
      sessionTimeoutMs: e.FACTORY_WORKER_SESSION_MS,
    },
    linkProxies: {
      enabled: e.FACTORY_LINK_PROXIES,
      api: e.FACTORY_TOXIPROXY_ADDR,
      portBase: e.FACTORY_PROXY_PORT_BASE,
    },
    grafana: { bin: e.FACTORY_GRAFANA_BIN, home: e.FACTORY_GRAFANA_HOME, addr: e.FACTORY_GRAFANA_ADDR },
    stopTimeoutMs: e.FACTORY_STOP_TIMEOUT_MS,
    startTimeoutMs: e.FACTORY_START_TIMEOUT_MS,
    mqttOverride:
      e.FACTORY_MQTT_USERNAME && e.FACTORY_MQTT_PASSWORD
        ? { username: e.FACTORY_MQTT_USERNAME, password: e.FACTORY_MQTT_PASSWORD }
        : undefined,
  };
}

/** Where each kind of file lives under the data directory. */
export const paths = (c: Config) => ({
  credentials: join(c.dataDir, 'credentials.json'),
  logs: join(c.dataDir, 'logs'),
  run: join(c.dataDir, 'run'),
  log: (name: string) => join(c.dataDir, 'logs', `${name}.log`),
  pid: (name: string) => join(c.dataDir, 'run', `${name}.pid`),
  server: (name: string) => join(c.dataDir, name),
});

/** The environment variable that moves each address, for error messages. */
export const addressVariable = {
  mqtt: 'FACTORY_MQTT_ADDR',
  nats: 'FACTORY_NATS_ADDR',
  kafka: 'FACTORY_KAFKA_ADDR',
  kafkaController: 'FACTORY_KAFKA_CONTROLLER_ADDR',
  influx: 'FACTORY_INFLUX_ADDR',
  influxRpc: 'FACTORY_INFLUX_RPC_ADDR',
  temporal: 'FACTORY_TEMPORAL_ADDR',
  temporalUi: 'FACTORY_TEMPORAL_UI_ADDR',
  http: 'FACTORY_HTTP_ADDR',
  toxiproxy: 'FACTORY_TOXIPROXY_ADDR',
  grafana: 'FACTORY_GRAFANA_ADDR',
  /** The link proxies' listen addresses and the Kafka listeners behind them. */
  linkProxies: 'FACTORY_PROXY_PORT_BASE',
} as const;
