/**
 * Network faults on a link between a platform process and a server: toxics added to the link's
 * Toxiproxy proxy (common/links.ts says which; infra/servers/toxiproxy.ts runs it), removed when
 * the fault ends. Speaks Toxiproxy's HTTP API with fetch; every answer is parsed once here.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { Config } from '../common/config.js';
import { type LinkProxy, linkProxy, linkProxyName } from '../common/links.js';
import { type Toxic, toxicSchema, toxiproxyUrl } from '../infra/servers/toxiproxy.js';
import { StackError } from '../infra/supervisor/stack.js';
import type { NetworkEffect, NetworkFault } from './scenario.js';

export { linkProxyName };

/** A toxic to add, as POST /proxies/{proxy}/toxics takes it. */
export interface ToxicSpec {
  name: string;
  type: 'latency' | 'bandwidth' | 'timeout';
  stream: 'upstream' | 'downstream';
  toxicity: number;
  attributes: Record<string, number>;
}

/** The part of Toxiproxy's API the injector uses; constructed with its address (or a fake). */
export interface ToxiproxyApi {
  url: string;
  addToxic(proxy: string, toxic: ToxicSpec): Promise<Toxic>;
  /** Resolves when the toxic is gone, also when it already was (Toxiproxy restarted, reset). */
  removeToxic(proxy: string, toxic: string): Promise<void>;
  /** Removes every toxic of every proxy and enables every proxy. */
  reset(): Promise<void>;
}

const apiErrorSchema = z.object({ error: z.string(), status: z.number().optional() });

const both = ['upstream', 'downstream'] as const;

/**
 * The toxics that make an effect, named `<tag>-<type>-<stream>` so that one fault's toxics can
 * be removed without touching another's on the same link.
 *
 * - latency: `latencyMs` is what every round trip on the link gains, half on the way to the
 *   server and half on the way back (jitter likewise), so data in both directions is late, as
 *   on a slow line, and a request waits `latencyMs` longer for its answer.
 * - bandwidth: `kBps` KB/s each way.
 * - partition: a `timeout` toxic with timeout 0 each way: a black hole that drops the data and
 *   holds the connections open, as a real partition does. Toxiproxy closes the held
 *   connections when the toxic is removed; the clients reconnect through the healed link.
 */
export function toxicsFor(effect: NetworkEffect, tag: string): ToxicSpec[] {
  const spec = (
    type: ToxicSpec['type'],
    stream: ToxicSpec['stream'],
    attributes: Record<string, number>,
  ) => ({
    name: `${tag}-${type}-${stream}`,
    type,
    stream,
    toxicity: 1,
    attributes,
  });
  switch (effect.kind) {
    case 'latency': {
      const half = (ms: number) => ({ upstream: Math.floor(ms / 2), downstream: ms - Math.floor(ms / 2) });
      const latency = half(effect.latencyMs);
      const jitter = half(effect.jitterMs);
      return both.map((s) => spec('latency', s, { latency: latency[s], jitter: jitter[s] }));
    }
    case 'bandwidth':
      return both.map((s) => spec('bandwidth', s, { rate: effect.kBps }));
    case 'partition':
      return both.map((s) => spec('timeout', s, { timeout: 0 }));
  }
}

const causeOf = (err: unknown): string => {
  if (!(err instanceof Error)) return String(err);
  const cause = err.cause as { code?: string; message?: string } | undefined;
  return cause?.code ?? cause?.message ?? err.message;
};

/** Toxiproxy's API at the configuration's address (FACTORY_TOXIPROXY_ADDR). */
export function toxiproxyApi(config: Config, fetchFn: typeof fetch = fetch): ToxiproxyApi {
  const url = toxiproxyUrl(config);

  const call = async (method: string, path: string, body?: unknown): Promise<Response> => {
    try {
      return await fetchFn(`${url}${path}`, {
        method,
        headers: body === undefined ? undefined : { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(5_000),
      });
    } catch (err) {
      throw new StackError(
        `Toxiproxy does not answer at ${url} (${causeOf(err)}): is the stack running, and was it started with FACTORY_LINK_PROXIES=1 ("factory status" lists toxiproxy)?`,
      );
    }
  };

  const reason = async (res: Response): Promise<string> => {
    const text = await res.text().catch(() => '');
    try {
      const parsed = apiErrorSchema.safeParse(JSON.parse(text));
      if (parsed.success) return parsed.data.error;
    } catch {
      // not JSON: the text itself
    }
    return text.trim().slice(0, 200) || `HTTP ${res.status}`;
  };

  const proxyPath = (proxy: string) => `/proxies/${encodeURIComponent(proxy)}`;

  return {
    url,
    async addToxic(proxy, toxic) {
      const res = await call('POST', `${proxyPath(proxy)}/toxics`, toxic);
      if (res.status === 404)
        throw new StackError(
          `Toxiproxy at ${url} has no proxy ${proxy} (${await reason(res)}): its row in "factory status" says which link proxies are missing.`,
        );
      if (!res.ok)
        throw new StackError(`Toxiproxy refused the ${toxic.type} toxic on ${proxy}: ${await reason(res)}.`);
      const parsed = toxicSchema.safeParse(await res.json().catch(() => undefined));
      if (!parsed.success)
        throw new StackError(
          `Toxiproxy at ${url} answered the new toxic on ${proxy} with an unexpected body.`,
        );
      return parsed.data;
    },
    async removeToxic(proxy, toxic) {
      const res = await call('DELETE', `${proxyPath(proxy)}/toxics/${encodeURIComponent(toxic)}`);
      if (res.ok || res.status === 404) return;
      throw new StackError(
        `Toxiproxy could not remove the toxic ${toxic} from ${proxy}: ${await reason(res)}.`,
      );
    },
    async reset() {
      const res = await call('POST', '/reset');
      if (!res.ok) throw new StackError(`Toxiproxy could not reset its proxies: ${await reason(res)}.`);
    },
  };
}

const noProxies = (config: Config) =>
  `The stack at ${config.dataDir} has no link proxies (FACTORY_LINK_PROXIES is off), so a network fault has nothing to act on: run the scenario on a stack of its own, or start the stack with FACTORY_LINK_PROXIES=1.`;

function proxyOf(config: Config, fault: NetworkFault): LinkProxy {
  if (!config.linkProxies.enabled) throw new StackError(noProxies(config));
  const proxy = linkProxy(config, fault.from, fault.to);
  if (!proxy)
    throw new StackError(`${fault.from} does not talk to ${fault.to}: there is no such link to impair.`);
  return proxy;
}

/**
 * Impairs one link (every instance of the role, existing connections and new ones) until the
 * returned function is called; that function removes exactly this fault's toxics and may be
 * called again if it failed. If adding fails halfway, what was added is removed again.
 */
export async function impair(
  config: Config,
  fault: NetworkFault,
  api: ToxiproxyApi = toxiproxyApi(config),
): Promise<() => Promise<void>> {
  const proxy = proxyOf(config, fault);
  const present: string[] = [];
  const removeAll = async () => {
    while (present.length > 0) {
      await api.removeToxic(proxy.name, present.at(-1)!);
      present.pop();
    }
  };
  try {
    for (const toxic of toxicsFor(fault.effect, `sim-${randomUUID().slice(0, 8)}`)) {
      await api.addToxic(proxy.name, toxic);
      present.push(toxic.name);
    }
  } catch (err) {
    await removeAll().catch(() => undefined);
    throw err;
  }
  return removeAll;
}

/** Every link back to normal (all toxics removed): for clean-up; nothing to do without proxies. */
export async function resetLinks(config: Config, api: ToxiproxyApi = toxiproxyApi(config)): Promise<void> {
  if (!config.linkProxies.enabled) return;
  await api.reset();
}
