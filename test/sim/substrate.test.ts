import { describe, expect, it } from 'vitest';
import { SimWorld, SimLimitError, SimCallbackError, type SimWorldOptions } from '../../src/substrate/sim/index.js';
import { SimRandom } from '../../src/substrate/sim/random.js';
import { TraceHash } from '../../src/substrate/sim/hash.js';
import { macrotaskHop } from '../../src/sim/drive.js';
import { ThreadRegistry } from '../../src/threads/index.js';
import { CallTimeoutError, RpcClient, RpcServer, RpcError } from '../../src/rpc/index.js';
import type { Substrate } from '../../src/substrate/types.js';

function world(opts: Partial<SimWorldOptions> = {}): SimWorld {
  return new SimWorld({ seed: 1, hop: macrotaskHop, ...opts });
}

async function echoServer(s: Substrate & { node: string }, handlers = 3): Promise<RpcServer> {
  const threads = new ThreadRegistry(s.node, 'server', s.pid, s.clock);
  const server = new RpcServer({
    node: s.node,
    substrate: s,
    threads,
    listen: { host: s.node, port: 16000 },
    pools: [{ name: 'default', handlers, queues: 1, maxQueueLength: 100 }],
  });
  server.register('Echo.echo', 'default', async (a) => a);
  server.register('Echo.sleep', 'default', async (a) => {
    await new Promise<void>((r) => s.clock.setTimer(a as number, r));
    return a;
  });
  await server.start();
  return server;
}

function client(s: Substrate & { node: string }, timeoutMs = 1000): { rpc: RpcClient; threads: ThreadRegistry } {
  const threads = new ThreadRegistry(s.node, 'client', s.pid, s.clock);
  return { rpc: new RpcClient({ node: s.node, substrate: s, timeoutMs }), threads };
}

describe('SimRandom and TraceHash', () => {
  it('is deterministic per seed and uniform enough', () => {
    const a = new SimRandom(42);
    const b = new SimRandom(42);
    const c = new SimRandom(43);
    const xs = Array.from({ length: 1000 }, () => a.next());
    expect(xs).toEqual(Array.from({ length: 1000 }, () => b.next()));
    expect(xs.slice(0, 10)).not.toEqual(Array.from({ length: 10 }, () => c.next()));
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    expect(mean).toBeGreaterThan(0.45);
    expect(mean).toBeLessThan(0.55);
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
  });

  it('hashes order and content', () => {
    const h = (words: number[]): string => {
      const t = new TraceHash();
      for (const w of words) t.word(w);
      return t.hex();
    };
    expect(h([1, 2, 3])).toBe(h([1, 2, 3]));
    expect(h([1, 2, 3])).not.toBe(h([1, 3, 2]));
    expect(h([1, 2, 3])).toMatch(/^[0-9a-f]{16}$/);
    const b1 = new TraceHash();
    b1.bytes(new Uint8Array([1, 2, 3, 4, 5]));
    const b2 = new TraceHash();
    b2.bytes(new Uint8Array([1, 2, 3, 4, 6]));
    expect(b1.hex()).not.toBe(b2.hex());
  });
});

describe('scheduler', () => {
  it('fires timers in time order, ties in insertion order, and drains microtasks between events', async () => {
    const w = world();
    const s = w.addNode('n1');
    const log: string[] = [];
    s.clock.setTimer(10, () => log.push(`b@${s.clock.nowMs()}`));
    s.clock.setTimer(5, () => {
      log.push(`a@${s.clock.nowMs()}`);
      void Promise.resolve().then(() => log.push(`a-micro@${s.clock.nowMs()}`));
    });
    s.clock.setTimer(10, () => log.push(`c@${s.clock.nowMs()}`));
    const cancelled = s.clock.setTimer(7, () => log.push('never'));
    cancelled.cancel();
    expect(await w.run(() => false)).toBe('idle');
    expect(log).toEqual(['a@5', 'a-micro@5', 'b@10', 'c@10']);
    expect(w.nowMs).toBe(10);
  });

  it('ends a runaway run with a clear error instead of hanging', async () => {
    const w = world({ limits: { maxEvents: 1000 } });
    const s = w.addNode('n1');
    const loop = (): void => void s.clock.setTimer(1, loop);
    loop();
    await expect(w.run(() => false)).rejects.toThrow(SimLimitError);
    const w2 = world({ limits: { maxVirtualMs: 500 } });
    const s2 = w2.addNode('n1');
    const loop2 = (): void => void s2.clock.setTimer(1, loop2);
    loop2();
    await expect(w2.run(() => false)).rejects.toThrow(/virtual time limit of 500 ms/);
  });

  it('reports a throwing callback as the run failing', async () => {
    const w = world();
    const s = w.addNode('n1');
    s.clock.setTimer(1, () => {
      throw new Error('boom');
    });
    await expect(w.run(() => false)).rejects.toThrow(SimCallbackError);
  });

  it('never fires an infinite timer and cancels a crashed node’s timers', async () => {
    const w = world();
    const s = w.addNode('n1');
    let fired = 0;
    s.clock.setTimer(Infinity, () => fired++);
    s.clock.setTimer(10, () => fired++);
    w.at(5, 'crash', () => w.crash('n1'));
    expect(await w.run(() => false)).toBe('idle');
    expect(fired).toBe(0);
    expect(s.alive).toBe(false);
  });
});

describe('RPC over the simulated network', () => {
  it('runs the real RpcServer and RpcClient unchanged', async () => {
    const w = world();
    const a = w.addNode('a');
    const b = w.addNode('b');
    await echoServer(a);
    const { rpc, threads } = client(b);
    const t = threads.spawn('caller');
    const call = rpc.call({ node: 'a', addr: { host: 'a', port: 16000 } }, 'Echo.echo', { x: 1 }, { thread: t });
    expect(await w.run(call)).toBe('done');
    expect(await call).toEqual({ x: 1 });
    // connect + challenge/hello/welcome + request/response: a handful of one-way delays.
    expect(w.nowMs).toBeGreaterThan(1);
    expect(w.nowMs).toBeLessThan(3);
  });

  it('gives the same trace for the same seed and a different one for another seed', async () => {
    const run = async (seed: number): Promise<[string, number]> => {
      const w = world({ seed, link: { jitterMs: 0.2 } });
      const a = w.addNode('a');
      await echoServer(a, 2);
      const calls: Promise<unknown>[] = [];
      for (let i = 0; i < 5; i++) {
        const c = w.addNode(`c${i}`);
        const { rpc, threads } = client(c);
        for (let j = 0; j < 3; j++) {
          const t = threads.spawn(`caller-${j}`);
          calls.push(rpc.call({ node: 'a', addr: { host: 'a', port: 16000 } }, 'Echo.sleep', 3 + j, { thread: t }));
        }
      }
      await w.run(Promise.all(calls));
      return [w.traceHash, w.nowMs];
    };
    const [h1, t1] = await run(7);
    const [h2, t2] = await run(7);
    const [h3] = await run(8);
    expect(h1).toBe(h2);
    expect(t1).toBe(t2);
    expect(h3).not.toBe(h1);
  });

  it('times out cleanly when every frame is dropped', async () => {
    const w = world();
    const a = w.addNode('a');
    const b = w.addNode('b');
    await echoServer(a);
    const { rpc, threads } = client(b, 2000);
    const t = threads.spawn('caller');
    const peer = { node: 'a', addr: { host: 'a', port: 16000 } };
    await w.run(rpc.call(peer, 'Echo.echo', 1, { thread: t }));
    w.fabric.setFaults({ dropRate: 1 });
    const start = w.nowMs;
    const call = rpc.call(peer, 'Echo.echo', 2, { thread: t });
    await w.run(call);
    await expect(call).rejects.toThrow(/timed out after 2000 ms/);
    expect(w.nowMs - start).toBe(2000);
  });

  it('holds frames across a partition and delivers them when it heals', async () => {
    const w = world();
    const a = w.addNode('a');
    const b = w.addNode('b');
    await echoServer(a);
    const { rpc, threads } = client(b, 60_000);
    const t = threads.spawn('caller');
    const peer = { node: 'a', addr: { host: 'a', port: 16000 } };
    await w.run(rpc.call(peer, 'Echo.echo', 1, { thread: t }));
    const id = w.partition(['a'], ['b']);
    const start = w.nowMs;
    w.at(start + 500, 'heal', () => w.heal(id));
    const call = rpc.call(peer, 'Echo.echo', 2, { thread: t });
    await w.run(call);
    expect(await call).toBe(2);
    expect(w.nowMs - start).toBeGreaterThanOrEqual(500);
    expect(w.nowMs - start).toBeLessThan(502);
    expect(w.stats().framesHeld).toBeGreaterThan(0);
  });

  it('a call gives up exactly at its deadline while the server-side handler keeps running', async () => {
    const w = world();
    const a = w.addNode('a');
    const b = w.addNode('b');
    const server = await echoServer(a);
    const { rpc, threads } = client(b, 60_000);
    const t = threads.spawn('caller');
    const peer = { node: 'a', addr: { host: 'a', port: 16000 } };
    await w.run(rpc.call(peer, 'Echo.echo', 1, { thread: t }));
    const start = w.nowMs;
    const call = rpc.call(peer, 'Echo.sleep', 1000, { thread: t, timeoutMs: 150 });
    await w.run(call.catch(() => {}));
    await expect(call).rejects.toBeInstanceOf(CallTimeoutError);
    expect(w.nowMs - start).toBe(150);
    // The caller is free; the handler still serves the call, and ends it after its 1,000 ms.
    expect(t.wait).toBeNull();
    expect(server.metrics()[0]!.completed).toBe(1);
    await w.run(() => server.metrics()[0]!.completed === 2);
    expect(w.nowMs - start).toBeGreaterThanOrEqual(1000);
    expect(w.nowMs - start).toBeLessThan(1002);
  });

  it('refuses connects to a missing listener and black-holes them across a partition', async () => {
    const w = world();
    const a = w.addNode('a');
    w.addNode('b');
    const refused = a.network.connect({ host: 'b', port: 1 });
    await w.run(refused);
    await expect(refused).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    const b = w.substrate('b');
    await b.network.listen({ host: 'b', port: 1 }, () => {});
    w.partition(['a']);
    const start = w.nowMs;
    const timedOut = a.network.connect({ host: 'b', port: 1 }, { timeoutMs: 3000 });
    await w.run(timedOut);
    await expect(timedOut).rejects.toMatchObject({ code: 'ETIMEDOUT' });
    expect(w.nowMs - start).toBe(3000);
  });

  it('resets connections when a node crashes and serves again after a restart', async () => {
    const w = world();
    const a = w.addNode('a');
    const b = w.addNode('b');
    await echoServer(a);
    const { rpc, threads } = client(b, 60_000);
    const t = threads.spawn('caller');
    const peer = { node: 'a', addr: { host: 'a', port: 16000 } };
    await w.run(rpc.call(peer, 'Echo.echo', 1, { thread: t }));
    const call = rpc.call(peer, 'Echo.sleep', 1000, { thread: t });
    w.at(w.nowMs + 100, 'crash a', () => w.crash('a'));
    await w.run(call);
    await expect(call).rejects.toThrow(RpcError);
    await expect(call).rejects.toThrow(/reset by peer a/);
    expect(w.nowMs).toBeLessThan(200);
    // Nothing listens while it is down.
    const down = rpc.call(peer, 'Echo.echo', 3, { thread: t });
    await w.run(down);
    await expect(down).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    const a2 = w.restart('a');
    await echoServer(a2);
    const again = rpc.call(peer, 'Echo.echo', 4, { thread: t });
    await w.run(again);
    expect(await again).toBe(4);
  });
});

describe('simulated disk', () => {
  it('keeps synced data and loses unsynced data on crash', async () => {
    const w = world({ disk: { tornWrites: false, fsyncMs: 2 } });
    const s = w.addNode('n');
    const work = (async () => {
      await s.disk.mkdirp('/data/wal');
      const f = await s.disk.openAppend('/data/wal/seg-1');
      await f.append(new Uint8Array([1, 2, 3]));
      const t0 = s.clock.nowMs();
      await f.sync();
      expect(s.clock.nowMs() - t0).toBeGreaterThanOrEqual(2);
      await f.append(new Uint8Array([4, 5]));
      expect(f.size).toBe(5);
      expect(await s.disk.list('/data')).toEqual(['wal']);
      expect(await s.disk.size('/data/wal/seg-1')).toBe(5);
      await s.disk.writeFile('/data/meta', new Uint8Array([9]));
    })();
    await w.run(work);
    await work;
    w.crash('n');
    const s2 = w.restart('n');
    const read = (async () => ({
      seg: await s2.disk.readFile('/data/wal/seg-1'),
      meta: await s2.disk.readFile('/data/meta'),
      missing: await s2.disk.readFile('/data/nope').catch((e: { code: string }) => e.code),
      list: await s2.disk.list('/data/wal'),
    }))();
    await w.run(read);
    const r = await read;
    expect([...r.seg]).toEqual([1, 2, 3]);
    expect([...r.meta]).toEqual([9]);
    expect(r.missing).toBe('ENOENT');
    expect(r.list).toEqual(['seg-1']);
  });

  it('tears unsynced tails at random with torn writes on', async () => {
    const lengths = new Set<number>();
    for (let seed = 0; seed < 20; seed++) {
      const w = world({ seed });
      const s = w.addNode('n');
      const work = (async () => {
        await s.disk.mkdirp('d');
        const f = await s.disk.openAppend('d/f');
        await f.append(new Uint8Array(10));
        await f.sync();
        await f.append(new Uint8Array(100));
      })();
      await w.run(work);
      w.crash('n');
      const s2 = w.restart('n');
      const size = s2.disk.size('d/f');
      await w.run(size);
      lengths.add((await size)!);
    }
    expect([...lengths].every((n) => n >= 10 && n <= 110)).toBe(true);
    expect(lengths.size).toBeGreaterThan(3);
  });

  it('renames, truncates and removes', async () => {
    const w = world();
    const s = w.addNode('n');
    const work = (async () => {
      await s.disk.mkdirp('/x/y');
      await s.disk.writeFile('/x/y/a.tmp', new Uint8Array([1, 2, 3, 4]));
      await s.disk.rename('/x/y/a.tmp', '/x/y/a');
      await s.disk.truncate('/x/y/a', 2);
      const after = await s.disk.readFile('/x/y/a');
      const names = await s.disk.list('/x/y');
      await s.disk.remove('/x');
      return { after: [...after], names, gone: await s.disk.size('/x/y/a'), list: await s.disk.list('/x') };
    })();
    await w.run(work);
    expect(await work).toEqual({ after: [1, 2], names: ['a'], gone: undefined, list: [] });
    await expect(
      (async () => {
        const p = s.disk.openAppend('/missing/dir/file');
        await w.run(p);
        return p;
      })(),
    ).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
