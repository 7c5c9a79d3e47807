// A node's admin /metrics answers Prometheus text (parsed here by a real parser, as a scraper
// would), from the live pools and threads; the JSON it used to answer stays at ?format=json, and
// the admin authentication rules hold for both.
import { afterEach, describe, expect, it } from 'vitest';
import { startAdminServer } from '../../src/admin/http.js';
import { RpcClient, RpcServer } from '../../src/rpc/index.js';
import { realSubstrate } from '../../src/substrate/real/index.js';
import { adminToken } from '../../src/runtime/index.js';
import { ThreadRegistry } from '../../src/threads/index.js';
import { gate, until, type Gate } from '../support/gate.js';
import { sample, samples, scrape } from '../support/prometheus.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

/** An RPC server with a 3-handler pool whose T.block calls wait on gates the test opens. */
async function blockingServer() {
  const substrate = realSubstrate();
  const threads = new ThreadRegistry('srv', 'master', process.pid, substrate.clock);
  const server = new RpcServer({
    node: 'srv',
    substrate,
    threads,
    listen: { host: '127.0.0.1', port: 0 },
    pools: [{ name: 'default', handlers: 3, queues: 1, maxQueueLength: 10 }],
  });
  const gates: Gate[] = [];
  server.register('T.block', 'default', async (_a, ctx) => {
    const g = gate();
    gates.push(g);
    await ctx.thread.waitOn({ kind: 'queue', queue: 'test-gate' }, g.promise);
    return 'ok';
  });
  const addr = await server.start();
  cleanups.push(() => server.stop());
  const client = new RpcClient({ node: 'cli', substrate });
  cleanups.push(() => client.close());
  const callers = new ThreadRegistry('cli', 'client', process.pid, substrate.clock);
  const call = () =>
    client.call({ node: 'srv', addr }, 'T.block', null, { thread: callers.spawn('caller') }).catch(() => undefined);
  return { server, threads, gates, call };
}

describe('admin /metrics', () => {
  it('answers Prometheus text with the pools and threads of the node, and JSON at ?format=json', async () => {
    const s = await blockingServer();
    const admin = await startAdminServer('127.0.0.1', 0, { threads: s.threads });
    cleanups.push(() => admin.close());
    const calls = [s.call(), s.call(), s.call(), s.call()];
    await until(() => s.gates.length === 3 && s.server.metrics()[0]!.queuedTotal === 1, 'three busy, one queued');

    const m = await scrape(`${admin.url}/metrics`);
    const pool = { node: 'srv', pool: 'default' };
    expect(sample(m, 'rollcall_pool_size', pool)).toBe(3);
    expect(sample(m, 'rollcall_pool_threads', { ...pool, state: 'busy' })).toBe(3);
    expect(sample(m, 'rollcall_pool_threads', { ...pool, state: 'idle' })).toBe(0);
    expect(sample(m, 'rollcall_pool_queued_calls', pool)).toBe(1);
    expect(sample(m, 'rollcall_pool_completed_calls_total', pool)).toBe(0);
    expect(sample(m, 'rollcall_node_info', { node: 'srv', role: 'master' })).toBe(1);
    // The three handlers wait on their gates; every state has a series.
    expect(sample(m, 'rollcall_node_threads', { node: 'srv', state: 'waiting' })).toBeGreaterThanOrEqual(3);
    expect(samples(m, 'rollcall_node_threads').map((x) => x.labels['state'])).toEqual([
      'runnable',
      'waiting',
      'timed_waiting',
      'blocked',
      'idle',
    ]);
    expect(m.find((f) => f.name === 'rollcall_pool_completed_calls_total')?.type).toBe('COUNTER');

    const json = (await (await fetch(`${admin.url}/metrics?format=json`)).json()) as {
      node: string;
      pools: { name: string; busy: number; queuedTotal: number }[];
    };
    expect(json.node).toBe('srv');
    expect(json.pools[0]).toMatchObject({ name: 'default', busy: 3, queuedTotal: 1 });

    for (const g of s.gates) g.open();
    await until(() => s.gates.length === 4, 'the queued call runs');
    s.gates[3]!.open();
    await Promise.all(calls);
    const after = await scrape(`${admin.url}/metrics`);
    expect(sample(after, 'rollcall_pool_completed_calls_total', pool)).toBe(4);
    expect(sample(after, 'rollcall_pool_threads', { ...pool, state: 'idle' })).toBe(3);
  });

  it('keeps the admin token rule: text and JSON alike need it', async () => {
    const token = adminToken(Buffer.from('0123456789abcdef-secret'));
    const threads = new ThreadRegistry('w', 'worker', process.pid, realSubstrate().clock);
    const admin = await startAdminServer('127.0.0.1', 0, { threads }, { token });
    cleanups.push(() => admin.close());
    for (const path of ['/metrics', '/metrics?format=json'])
      expect((await fetch(`${admin.url}${path}`)).status).toBe(401);
    const m = await scrape(`${admin.url}/metrics`, { authorization: `Bearer ${token}` });
    expect(sample(m, 'rollcall_node_info', { node: 'w', role: 'worker' })).toBe(1);
  });
});
