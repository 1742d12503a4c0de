import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { addressVariable, type Config, formatAddress, paths } from '../../common/config.js';
import { LINKS, linkProxies } from '../../common/links.js';
import { type Component, type ComponentContext, withTimeout } from './component.js';

/** One proxy as Toxiproxy's `-config` file (and its POST /populate) takes it. */
export interface ProxySpec {
  name: string;
  listen: string;
  upstream: string;
  enabled: boolean;
}

/** The proxies Toxiproxy creates when it starts: every link, enabled. */
export const proxiesConfig = (config: Config): ProxySpec[] =>
  linkProxies(config).map((p) => ({
    name: p.name,
    listen: formatAddress(p.listen),
    upstream: formatAddress(p.upstream),
    enabled: true,
  }));

/** A toxic as Toxiproxy reports it. */
export const toxicSchema = z.object({
  name: z.string(),
  type: z.string(),
  stream: z.enum(['upstream', 'downstream']),
  toxicity: z.number(),
  attributes: z.record(z.string(), z.unknown()),
});
export type Toxic = z.infer<typeof toxicSchema>;

/** GET /proxies: proxy name → proxy with its toxics. */
export const proxiesSchema = z.record(
  z.string(),
  z.object({
    name: z.string(),
    listen: z.string(),
    upstream: z.string(),
    enabled: z.boolean(),
    toxics: z.array(toxicSchema).nullable(),
  }),
);
export type Proxies = z.infer<typeof proxiesSchema>;

export const toxiproxyUrl = (config: Config) => `http://${formatAddress(config.linkProxies.api)}`;

/** What is wrong with the running proxies compared with the links, or undefined when nothing is. */
export function proxiesProblem(config: Config, running: Proxies): string | undefined {
  const problems = proxiesConfig(config).flatMap((want) => {
    const got = running[want.name];
    if (!got) return [`${want.name} is missing`];
    if (!got.enabled) return [`${want.name} is disabled`];
    if (got.listen !== want.listen) return [`${want.name} listens on ${got.listen}, not ${want.listen}`];
    if (got.upstream !== want.upstream)
      return [`${want.name} forwards to ${got.upstream}, not ${want.upstream}`];
    return [];
  });
  return problems.length ? `link proxies: ${problems.join(', ')}` : undefined;
}

/**
 * Toxiproxy with a proxy on every link between the platform processes and the servers
 * (FACTORY_LINK_PROXIES). It reads its proxies from a file at start, so a restarted Toxiproxy
 * comes back with every proxy (and without the toxics of a simulation: they end with it).
 */
export function toxiproxy(ctx: ComponentContext): Component {
  const { config } = ctx;
  const dir = paths(config).server('toxiproxy');
  const file = join(dir, 'proxies.json');
  const api = config.linkProxies.api;
  const url = toxiproxyUrl(config);

  const get = async (path: string): Promise<unknown> => {
    const res = await withTimeout('toxiproxy', 5_000, fetch(`${url}${path}`));
    if (!res.ok) throw new Error(`toxiproxy answered GET ${path} with HTTP ${res.status}`);
    return res.json();
  };

  return {
    name: 'toxiproxy',
    address: `${url} (${LINKS.length} link proxies from 127.0.0.1:${config.linkProxies.portBase})`,
    binds: [
      { addr: api, variable: addressVariable.toxiproxy },
      ...linkProxies(config).map((p) => ({ addr: p.listen, variable: addressVariable.linkProxies })),
    ],
    async prepare() {
      mkdirSync(dir, { recursive: true });
      writeFileSync(file, `${JSON.stringify(proxiesConfig(config), null, 2)}\n`);
    },
    spawn: () => ({
      command: ctx.tools.toxiproxy,
      args: ['-host', api.host, '-port', String(api.port), '-config', file],
      // Its default is trace: a line per API request and per link step. Info keeps proxies
      // started, clients accepted and errors.
      env: { LOG_LEVEL: 'info' },
      marker: file,
    }),
    ping: async () => void (await get('/version')),
    async health() {
      const running = proxiesSchema.parse(await get('/proxies'));
      const problem = proxiesProblem(config, running);
      if (problem) throw new Error(problem);
      const toxics = Object.values(running).flatMap((p) =>
        (p.toxics ?? []).map((t) => `${p.name} ${t.type} ${t.stream}`),
      );
      return `${LINKS.length} link proxies up; ${toxics.length ? `toxics: ${toxics.join(', ')}` : 'no toxics'}`;
    },
  };
}
