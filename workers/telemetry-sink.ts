/**
 * The telemetry sink of a region: the `firmware/` publisher, one MQTT connection per line the
 * worker serves, with that line's account (the broker's ACL lets it publish only under its own
 * line). Each connection is a gateway in the contract's sense: a retained status on
 * `factory/{site}/{line}/status/{gatewayId}`, store and forward, end-to-end confirmation.
 */
import { join } from 'node:path';
import type { RegisteredMachine } from '../actors/registry.js';
import { confirmTopic } from '../common/confirm.js';
import type { Logger } from '../common/log.js';
import { mqttTopics } from '../common/topics-mqtt.js';
import { type ConfirmOptions, Publisher, type PublisherStats } from '../firmware/publisher.js';
import { Outstanding } from './outstanding.js';
import type { TelemetryPort } from './shard-host.js';

export interface SinkOptions {
  workerId: string;
  mqttUrl: string;
  /** The line's MQTT account, or undefined when credentials have none for it. */
  account: (site: string, line: string) => { username: string; password: string } | undefined;
  stateDir: string;
  /** The install's secret client-id suffix (credentials.json): nobody else can take our sessions. */
  clientIdSuffix?: string;
  confirm: Omit<ConfirmOptions, 'topic'> | undefined;
  /** The machines this worker hosts on a line (for the status message). */
  hostedOn: (site: string, line: string) => string[];
  log: Logger;
}

export class TelemetrySink implements TelemetryPort {
  private readonly lines = new Map<string, Publisher>();
  private readonly outstanding = new Outstanding();
  private readonly startedAt = Date.now();

  constructor(private readonly opts: SinkOptions) {}

  /** The gateway id of this worker's connection for a line. */
  gatewayId(site: string, line: string): string {
    return `${this.opts.workerId}-${site}-${line}`;
  }

  telemetry(m: RegisteredMachine, payload: string, seq: number): void {
    this.outstanding.emitted(m.machineId, seq);
    this.publisher(m).publish(mqttTopics.telemetry(m.site, m.line, m.machineId), payload, {
      machineId: m.machineId,
      kind: 't',
      n: seq,
    });
  }

  event(m: RegisteredMachine, payload: string, epoch: number): void {
    this.publisher(m).publish(mqttTopics.events(m.site, m.line, m.machineId), payload, {
      machineId: m.machineId,
      kind: 'e',
      n: epoch,
    });
  }

  unsettled(machineId: string): number | undefined {
    return this.outstanding.lowest(machineId);
  }

  forget(machineId: string): void {
    this.outstanding.forget(machineId);
  }

  /** Totals over every line's connection. */
  get stats(): PublisherStats {
    const total: PublisherStats = {
      connected: true,
      disconnectedMs: 0,
      published: 0,
      acked: 0,
      confirmed: 0,
      inflight: 0,
      unconfirmed: 0,
      confirmLagMs: 0,
      replayed: 0,
      queued: 0,
      spoolBytes: 0,
      spooled: 0,
      dropped: 0,
      reconnects: 0,
    };
    for (const p of this.lines.values()) {
      const s = p.stats;
      total.connected &&= s.connected;
      total.confirmLagMs = Math.max(total.confirmLagMs, s.confirmLagMs);
      total.disconnectedMs = Math.max(total.disconnectedMs, s.disconnectedMs);
      for (const k of [
        'published',
        'acked',
        'confirmed',
        'inflight',
        'unconfirmed',
        'replayed',
        'queued',
        'spoolBytes',
        'spooled',
        'dropped',
        'reconnects',
      ] as const)
        total[k] += s[k];
    }
    return total;
  }

  publishStatus(): void {
    for (const p of this.lines.values()) p.publishStatus();
  }

  async stop(deadlineMs: number): Promise<void> {
    await Promise.all(
      [...this.lines.entries()].map(([key, p]) =>
        p.stop(deadlineMs, {
          online: false,
          gatewayId: this.gatewayIdOf(key),
          reason: 'shutdown',
          ts: Date.now(),
        }),
      ),
    );
  }

  private gatewayIdOf(key: string) {
    const [site, line] = key.split('/') as [string, string];
    return this.gatewayId(site, line);
  }

  private publisher(m: RegisteredMachine): Publisher {
    const key = `${m.site}/${m.line}`;
    let p = this.lines.get(key);
    if (p) return p;
    const account = this.opts.account(m.site, m.line);
    if (!account)
      throw new Error(`no MQTT account for ${key} in credentials.json: run "factory up" with this fleet`);
    const gatewayId = this.gatewayId(m.site, m.line);
    p = new Publisher({
      url: this.opts.mqttUrl,
      ...account,
      // The status topic names the gateway; only the connection carries the secret suffix.
      clientId: this.opts.clientIdSuffix ? `${gatewayId}-${this.opts.clientIdSuffix}` : gatewayId,
      spool: {
        dir: join(this.opts.stateDir, 'spool', `${m.site}-${m.line}`),
        maxBytes: 256 * 1024 * 1024,
        segmentBytes: 1024 * 1024,
      },
      maxInflight: 100,
      maxMemory: 5_000,
      backoffMinMs: 250,
      backoffMaxMs: 10_000,
      confirm: this.opts.confirm && { ...this.opts.confirm, topic: confirmTopic(m.site, m.line) },
      statusTopic: mqttTopics.status(m.site, m.line, gatewayId),
      will: { online: false, gatewayId, reason: 'connection lost' },
      birth: () => ({
        online: true,
        gatewayId,
        worker: this.opts.workerId,
        site: m.site,
        line: m.line,
        machines: this.opts.hostedOn(m.site, m.line),
        pid: process.pid,
        startedAt: this.startedAt,
        ts: Date.now(),
        ...p!.stats,
      }),
      onSettled: (k) => {
        if (k.kind === 't') this.outstanding.settled(k.machineId, k.n);
      },
      log: this.opts.log.child({ line: key, gateway: gatewayId }),
    });
    this.lines.set(key, p);
    p.start();
    return p;
  }
}
