import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../common/config.js';
import { StackError } from '../infra/supervisor/stack.js';
import { impair, linkProxyName, resetLinks, toxicsFor } from './network.js';

interface Seen {
  method: string;
  url: string;
  body: unknown;
}

/** A stand-in for Toxiproxy's API: records requests, answers as Toxiproxy does. */
let seen: Seen[] = [];
let refuse: { type?: string; proxy?: string } = {};
let server: Server;
let port = 0;

beforeAll(async () => {
  server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c) => {
      raw += c;
    });
    req.on('end', () => {
      const body = raw ? JSON.parse(raw) : undefined;
      seen.push({ method: req.method!, url: req.url!, body });
      const json = (status: number, value: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(value));
      };
      const toxics = /^\/proxies\/([^/]+)\/toxics(?:\/([^/]+))?$/.exec(req.url!);
      if (toxics && toxics[1] === refuse.proxy) return json(404, { error: 'proxy not found', status: 404 });
      if (toxics && req.method === 'POST') {
        if (body.type === refuse.type) return json(400, { error: 'invalid toxic type', status: 400 });
        return json(200, body);
      }
      if (toxics && req.method === 'DELETE') {
        res.writeHead(204);
        return res.end();
      }
      if (req.url === '/reset' && req.method === 'POST') {
        res.writeHead(204);
        return res.end();
      }
      json(404, { error: 'not found', status: 404 });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));
beforeEach(() => {
  seen = [];
  refuse = {};
});

const config = () => loadConfig({ FACTORY_LINK_PROXIES: '1', FACTORY_TOXIPROXY_ADDR: `127.0.0.1:${port}` });

describe('toxicsFor', () => {
  it('splits a latency between the two directions, so a round trip gains latencyMs', () => {
    expect(toxicsFor({ kind: 'latency', latencyMs: 201, jitterMs: 50 }, 't')).toEqual([
      {
        name: 't-latency-upstream',
        type: 'latency',
        stream: 'upstream',
        toxicity: 1,
        attributes: { latency: 100, jitter: 25 },
      },
      {
        name: 't-latency-downstream',
        type: 'latency',
        stream: 'downstream',
        toxicity: 1,
        attributes: { latency: 101, jitter: 25 },
      },
    ]);
  });

  it('limits the bandwidth each way, in KB/s', () => {
    expect(toxicsFor({ kind: 'bandwidth', kBps: 64 }, 't')).toEqual(
      ['upstream', 'downstream'].map((stream) => ({
        name: `t-bandwidth-${stream}`,
        type: 'bandwidth',
        stream,
        toxicity: 1,
        attributes: { rate: 64 },
      })),
    );
  });

  it('makes a partition a black hole each way: timeout 0 drops data and holds connections', () => {
    expect(toxicsFor({ kind: 'partition' }, 't')).toEqual(
      ['upstream', 'downstream'].map((stream) => ({
        name: `t-timeout-${stream}`,
        type: 'timeout',
        stream,
        toxicity: 1,
        attributes: { timeout: 0 },
      })),
    );
  });
});

describe('impair', () => {
  it("adds the effect's toxics to the link's proxy, and removes exactly those", async () => {
    const heal = await impair(config(), { from: 'bridge', to: 'kafka', effect: { kind: 'partition' } });
    expect(seen.map((s) => `${s.method} ${s.url}`)).toEqual([
      'POST /proxies/bridge-kafka/toxics',
      'POST /proxies/bridge-kafka/toxics',
    ]);
    const names = seen.map((s) => (s.body as { name: string }).name);
    expect(names[0]).toMatch(/^sim-[0-9a-f]{8}-timeout-upstream$/);
    expect(seen.map((s) => s.body)).toEqual([
      { name: names[0], type: 'timeout', stream: 'upstream', toxicity: 1, attributes: { timeout: 0 } },
      { name: names[1], type: 'timeout', stream: 'downstream', toxicity: 1, attributes: { timeout: 0 } },
    ]);
    seen = [];
    await heal();
    expect(seen.map((s) => `${s.method} ${s.url}`).sort()).toEqual(
      names.map((n) => `DELETE /proxies/bridge-kafka/toxics/${n}`).sort(),
    );
    seen = [];
    await heal();
    expect(seen).toEqual([]);
  });

  it('gives two faults on one link toxics of their own', async () => {
    const fault = { from: 'worker', to: 'mosquitto', effect: { kind: 'bandwidth', kBps: 10 } } as const;
    await impair(config(), fault);
    await impair(config(), fault);
    expect(new Set(seen.map((s) => (s.body as { name: string }).name)).size).toBe(4);
    expect(new Set(seen.map((s) => s.url))).toEqual(
      new Set([`/proxies/${linkProxyName('worker', 'mosquitto')}/toxics`]),
    );
  });

  it('removes what it added when Toxiproxy refuses a toxic halfway', async () => {
    let calls = 0;
    const api = {
      url: 'fake',
      addToxic: async (_proxy: string, toxic: { name: string; type: string; stream: string }) => {
        if (++calls === 2) throw new StackError('Toxiproxy refused');
        return { ...toxic, stream: 'upstream' as const, toxicity: 1, attributes: {} };
      },
      removed: [] as string[],
      async removeToxic(proxy: string, toxic: string) {
        this.removed.push(`${proxy}/${toxic}`);
      },
      reset: async () => {},
    };
    await expect(
      impair(
        config(),
        { from: 'writer', to: 'influxdb', effect: { kind: 'latency', latencyMs: 10, jitterMs: 0 } },
        api,
      ),
    ).rejects.toThrow('Toxiproxy refused');
    expect(api.removed).toHaveLength(1);
    expect(api.removed[0]).toMatch(/^writer-influxdb\/sim-[0-9a-f]{8}-latency-upstream$/);
  });

  it('says what to do on a stack without link proxies, before any request', async () => {
    const plain = loadConfig({ FACTORY_TOXIPROXY_ADDR: `127.0.0.1:${port}` });
    const fault = { from: 'analytics', to: 'kafka', effect: { kind: 'partition' } } as const;
    await expect(impair(plain, fault)).rejects.toThrow(StackError);
    await expect(impair(plain, fault)).rejects.toThrow(
      /no link proxies .*run the scenario on a stack of its own, or start the stack with FACTORY_LINK_PROXIES=1/,
    );
    expect(seen).toEqual([]);
    await resetLinks(plain);
    expect(seen).toEqual([]);
  });

  it('refuses a link that does not exist', async () => {
    await expect(
      impair(config(), { from: 'worker', to: 'kafka', effect: { kind: 'partition' } }),
    ).rejects.toThrow('worker does not talk to kafka');
  });

  it("names a proxy Toxiproxy does not have, and Toxiproxy's own reason for a refusal", async () => {
    refuse = { proxy: 'workflows-temporal' };
    await expect(
      impair(config(), { from: 'workflows', to: 'temporal', effect: { kind: 'partition' } }),
    ).rejects.toThrow(/has no proxy workflows-temporal \(proxy not found\)/);
    refuse = { type: 'bandwidth' };
    await expect(
      impair(config(), { from: 'bridge', to: 'mosquitto', effect: { kind: 'bandwidth', kBps: 1 } }),
    ).rejects.toThrow('Toxiproxy refused the bandwidth toxic on bridge-mosquitto: invalid toxic type.');
  });

  it('says where it looked when Toxiproxy does not answer', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const free = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const gone = loadConfig({ FACTORY_LINK_PROXIES: '1', FACTORY_TOXIPROXY_ADDR: `127.0.0.1:${free}` });
    await expect(
      impair(gone, { from: 'bridge', to: 'kafka', effect: { kind: 'partition' } }),
    ).rejects.toThrow(
      `Toxiproxy does not answer at http://127.0.0.1:${free} (ECONNREFUSED): is the stack running, and was it started with FACTORY_LINK_PROXIES=1`,
    );
  });
});

describe('resetLinks', () => {
  it('resets every proxy', async () => {
    await resetLinks(config());
    expect(seen.map((s) => `${s.method} ${s.url}`)).toEqual(['POST /reset']);
  });
});
