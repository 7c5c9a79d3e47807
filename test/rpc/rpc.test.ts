import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { realSubstrate } from '../../src/substrate/real/index.js';
import type { Random, Substrate } from '../../src/substrate/types.js';
import { ThreadRegistry } from '../../src/threads/index.js';
import {
  CallQueueTooBigError,
  CallTimeoutError,
  RemoteError,
  RpcClient,
  RpcError,
  RpcServer,
  type PoolConfig,
} from '../../src/rpc/index.js';
import { startAdminServer, type AdminServer } from '../../src/admin/http.js';
import type { NodeDump } from '../../src/threads/types.js';
import { gate, until, type Gate } from '../support/gate.js';
import { REFUSED_PORT } from '../support/refused.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

/** Random that replays a fixed sequence, so queue choice is known. */
function scriptedRandom(values: number[]): Random {
  let i = 0;
  return { next: () => values[i++ % values.length]! };
}

async function startServer(pools: PoolConfig[], substrate: Substrate = realSubstrate()) {
  const threads = new ThreadRegistry('srv', 'master', process.pid, substrate.clock);
  const server = new RpcServer({ node: 'srv', substrate, threads, listen: { host: '127.0.0.1', port: 0 }, pools });
  const gates: Gate[] = [];
  const served: { method: string; thread: string; arg: unknown }[] = [];
  server.register(
    'T.block',
    'default',
    async (a, ctx) => {
      served.push({ method: 'T.block', thread: ctx.thread.name, arg: a });
      const g = gate();
      gates.push(g);
      await ctx.thread.waitOn({ kind: 'queue', queue: 'test-gate' }, g.promise);
      return a;
    },
    'rollcall.test.TestService.block',
  );
  server.register('T.echo', 'default', async (a, ctx) => {
    served.push({ method: 'T.echo', thread: ctx.thread.name, arg: a });
    return a;
  });
  server.register('T.fail', 'default', async () => {
    throw new TypeError('handler exploded');
  });
  if (pools.some((p) => p.name === 'priority')) {
    server.register('T.report', 'priority', async (a, ctx) => {
      served.push({ method: 'T.report', thread: ctx.thread.name, arg: a });
      return 'reported';
    });
  }
  const addr = await server.start();
  cleanups.push(() => server.stop());
  return { server, threads, addr, gates, served, peer: { node: 'srv', addr } };
}

function startClient(name = 'cli') {
  const substrate = realSubstrate();
  const threads = new ThreadRegistry(name, 'client', process.pid, substrate.clock);
  const client = new RpcClient({ node: name, substrate });
  cleanups.push(() => client.close());
  return { client, threads };
}

describe('handler pools', () => {
  it('hands a call to an idle handler without queueing', async () => {
    const s = await startServer([{ name: 'default', handlers: 3, queues: 3, maxQueueLength: 30 }]);
    const c = startClient();
    const t = c.threads.spawn('caller');
    expect(await c.client.call(s.peer, 'T.echo', { v: 1 }, { thread: t })).toEqual({ v: 1 });
    // The lowest-numbered handler serves a quiet server (fast path stack).
    expect(s.served[0]!.thread).toBe(`RpcServer.default.FPBQ.Fifo.handler=0,queue=0,port=${s.addr.port}`);
    const m = s.server.metrics()[0]!;
    expect(m.queueLengths).toEqual([0, 0, 0]);
    expect(m.completed).toBe(1);
  });

  it('queues to a random queue when all handlers are busy, and handler i serves only queue i mod q', async () => {
    const substrate = { ...realSubstrate(), random: scriptedRandom([0.9, 0.9, 0.1]) };
    const s = await startServer([{ name: 'default', handlers: 2, queues: 2, maxQueueLength: 10 }], substrate);
    const c = startClient();
    const callers = [0, 1, 2, 3, 4].map((i) => c.threads.spawn(`caller-${i}`));
    const calls = callers.map((t, i) => c.client.call(s.peer, 'T.block', i, { thread: t }));
    await until(() => s.gates.length === 2, 'both handlers busy');
    await until(() => s.server.metrics()[0]!.queuedTotal === 3, 'three calls queued');
    // Random picks 0.9 → queue 1, 0.9 → queue 1, 0.1 → queue 0.
    expect(s.server.metrics()[0]!.queueLengths).toEqual([1, 2]);
    const handler1 = `RpcServer.default.FPBQ.Fifo.handler=1,queue=1,port=${s.addr.port}`;
    const blockedOn1 = s.served.findIndex((x) => x.thread === handler1);
    // Release handler 1: it must take the next call from queue 1, not queue 0.
    s.gates[blockedOn1]!.open();
    await until(() => s.gates.length === 3, 'handler 1 took the next call');
    expect(s.served[2]!.thread).toBe(handler1);
    expect(s.server.metrics()[0]!.queueLengths).toEqual([1, 1]);
    // Drain everything.
    for (let i = 0; i < 5; i++) {
      await until(() => s.gates.length > i, `call ${i} running`);
      s.gates[i]!.open();
    }
    expect((await Promise.all(calls)).sort()).toEqual([0, 1, 2, 3, 4]);
  });

  it('rejects with CallQueueTooBig when the chosen queue is at its limit', async () => {
    const s = await startServer([{ name: 'default', handlers: 1, queues: 1, maxQueueLength: 2 }]);
    const c = startClient();
    const ts = [0, 1, 2, 3].map((i) => c.threads.spawn(`caller-${i}`));
    const first = c.client.call(s.peer, 'T.block', 0, { thread: ts[0]! });
    await until(() => s.gates.length === 1, 'handler busy');
    const queued = [1, 2].map((i) => c.client.call(s.peer, 'T.block', i, { thread: ts[i]! }));
    await until(() => s.server.metrics()[0]!.queuedTotal === 2, 'queue full');
    const err = await c.client.call(s.peer, 'T.echo', 3, { thread: ts[3]! }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CallQueueTooBigError);
    expect((err as RpcError).type).toBe('CallQueueTooBig');
    expect(s.server.metrics()[0]!.rejected).toBe(1);
    for (let i = 0; i < 3; i++) {
      await until(() => s.gates.length > i, `call ${i} running`);
      s.gates[i]!.open();
    }
    await Promise.all([first, ...queued]);
  });

  it('routes priority methods to the priority pool while the default pool is saturated', async () => {
    const s = await startServer([
      { name: 'default', handlers: 1, queues: 1, maxQueueLength: 10 },
      { name: 'priority', handlers: 2, queues: 1, maxQueueLength: 10 },
    ]);
    const c = startClient();
    const blocked = c.client.call(s.peer, 'T.block', 0, { thread: c.threads.spawn('a') });
    await until(() => s.gates.length === 1, 'default pool saturated');
    expect(await c.client.call(s.peer, 'T.report', 1, { thread: c.threads.spawn('b') })).toBe('reported');
    expect(s.served.at(-1)!.thread).toMatch(/^RpcServer\.priority\.FPBQ\.Fifo\.handler=0,queue=0,port=\d+$/);
    s.gates[0]!.open();
    await blocked;
  });
});

describe('client deadlines, retries and errors', () => {
  it('gives up at the deadline while the server-side handler keeps running', async () => {
    const s = await startServer([{ name: 'default', handlers: 2, queues: 1, maxQueueLength: 10 }]);
    const c = startClient();
    const t = c.threads.spawn('caller');
    // (When exactly it gives up is timed on virtual time in test/sim/substrate.test.ts.)
    const err = await c.client.call(s.peer, 'T.block', 'x', { thread: t, timeoutMs: 150 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CallTimeoutError);
    // The caller's thread is no longer waiting, but the handler still serves the call.
    expect(t.wait).toBeNull();
    const handler = s.threads.all().find((x) => x.serving !== null);
    expect(handler?.serving?.method).toBe('T.block');
    s.gates[0]!.open();
    await until(() => s.server.metrics()[0]!.completed === 1, 'handler finished');
  });

  it('retries retryable errors with a pause and succeeds when the queue drains', async () => {
    const s = await startServer([{ name: 'default', handlers: 1, queues: 1, maxQueueLength: 0 }]);
    const c = startClient();
    const first = c.client.call(s.peer, 'T.block', 0, { thread: c.threads.spawn('a') });
    await until(() => s.gates.length === 1, 'handler busy');
    const t = c.threads.spawn('b');
    const retried = c.client.call(s.peer, 'T.echo', 'again', { thread: t, retries: 50, retryPauseMs: 10 });
    await until(() => s.server.metrics()[0]!.rejected >= 2, 'rejected at least twice');
    s.gates[0]!.open();
    expect(await retried).toBe('again');
    await first;
  });

  it('does not retry past the retry count', async () => {
    const s = await startServer([{ name: 'default', handlers: 1, queues: 1, maxQueueLength: 0 }]);
    const c = startClient();
    const first = c.client.call(s.peer, 'T.block', 0, { thread: c.threads.spawn('a') });
    await until(() => s.gates.length === 1, 'handler busy');
    const err = await c.client
      .call(s.peer, 'T.echo', 1, { thread: c.threads.spawn('b'), retries: 2, retryPauseMs: 1 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CallQueueTooBigError);
    expect(s.server.metrics()[0]!.rejected).toBe(3);
    s.gates[0]!.open();
    await first;
  });

  it('returns typed errors for unknown methods and handler exceptions', async () => {
    const s = await startServer([{ name: 'default', handlers: 1, queues: 1, maxQueueLength: 10 }]);
    const c = startClient();
    const t = c.threads.spawn('caller');
    const unknown = await c.client.call(s.peer, 'T.nope', null, { thread: t }).catch((e: unknown) => e);
    expect((unknown as RpcError).type).toBe('UnknownMethod');
    const remote = await c.client.call(s.peer, 'T.fail', null, { thread: t, retries: 3 }).catch((e: unknown) => e);
    expect(remote).toBeInstanceOf(RemoteError);
    expect((remote as RemoteError).remoteType).toBe('TypeError');
    expect((remote as Error).message).toContain('handler exploded');
    expect(s.server.metrics()[0]!.completed).toBe(1); // not retried
  });

  it('fails a call to a port where nothing listens with a connection error', async () => {
    const c = startClient();
    const port = REFUSED_PORT;
    const err = await c.client
      .call({ node: 'ghost', addr: { host: '127.0.0.1', port } }, 'T.echo', 1, { thread: c.threads.spawn('x') })
      .catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/ECONNREFUSED|connect/);
  });
});

describe('framing', () => {
  it('closes a connection that sends a malformed or oversized frame and keeps serving others', async () => {
    const s = await startServer([{ name: 'default', handlers: 1, queues: 1, maxQueueLength: 10 }]);
    for (const bad of [frameOf('not json at all'), oversizedHeader()]) {
      const sock = net.connect(s.addr.port, '127.0.0.1');
      const closed = new Promise<void>((r) => sock.on('close', () => r()));
      sock.on('error', () => {});
      sock.resume(); // a paused socket never reads the server's FIN
      await new Promise<void>((r) => sock.once('connect', () => r()));
      sock.write(bad);
      await closed;
    }
    const c = startClient();
    expect(await c.client.call(s.peer, 'T.echo', 'still here', { thread: c.threads.spawn('x') })).toBe('still here');
  });
});

describe('dumps', () => {
  it('shows stuck handlers, their callers and the queued call, and /stacks answers while every handler is stuck', async () => {
    const s = await startServer([{ name: 'default', handlers: 2, queues: 1, maxQueueLength: 10 }]);
    const admin: AdminServer = await startAdminServer('127.0.0.1', 0, { threads: s.threads });
    cleanups.push(() => admin.close());
    const c = startClient('worker-7');
    const callers = [0, 1, 2].map((i) => c.threads.spawn(`caller-${i}`));
    const calls = callers.map((t, i) => c.client.call(s.peer, 'T.block', i, { thread: t }));
    await until(() => s.gates.length === 2 && s.server.metrics()[0]!.queuedTotal === 1, 'two stuck, one queued');

    const dump = (await (await fetch(`${admin.url}/stacks?format=json`)).json()) as NodeDump;
    expect(dump.format).toBe('rollcall-dump/1');
    const handlers = dump.threads.filter((t) => t.pool === 'default');
    expect(handlers).toHaveLength(2);
    for (const h of handlers) {
      expect(h.state).toBe('WAITING');
      expect(h.frames.slice(0, 3)).toEqual([
        'rollcall.test.TestService.block',
        'rollcall.rpc.CallRunner.run',
        'rollcall.rpc.RpcHandler.run',
      ]);
      expect(h.wait).toMatchObject({ kind: 'queue', queue: 'test-gate' });
      // caller ↔ handler link
      const caller = callers.find((t) => t.id === h.serving!.callerThreadId)!;
      expect(h.serving).toMatchObject({ callerNode: 'worker-7', method: 'T.block' });
      expect(caller.wait).toMatchObject({ kind: 'rpc', target: 'srv', method: 'T.block', callId: h.serving!.callId });
      expect(caller.state).toBe('WAITING');
    }
    const pool = dump.pools.find((p) => p.name === 'default')!;
    expect(pool).toMatchObject({ size: 2, busy: 2, idle: 0, queuedTotal: 1 });
    const queuedCaller = callers.find((t) => !handlers.some((h) => h.serving!.callerThreadId === t.id))!;
    expect(pool.queued).toEqual([
      expect.objectContaining({ method: 'T.block', callerNode: 'worker-7', callerThreadId: queuedCaller.id }),
    ]);

    const text = await (await fetch(`${admin.url}/stacks`)).text();
    expect(text).toMatch(/^Full thread dump rollcall .*\(node=srv role=master/m);
    expect(text).toMatch(/"RpcServer\.default\.FPBQ\.Fifo\.handler=0,queue=0,port=\d+" #\d+ daemon prio=5/);
    expect(text).toContain('   java.lang.Thread.State: WAITING (parking)');
    expect(text).toContain('\tat rollcall.test.TestService.block(Unknown Source)');
    expect(text).toMatch(/\t- rollcall: serving call=\d+ method=T\.block caller=worker-7 callerThread=\d+/);
    expect(text).toContain('  pool=default size=2 busy=2 idle=0 queues=1 ');
    const metrics = (await (await fetch(`${admin.url}/metrics?format=json`)).json()) as {
      pools: { name: string; busy: number }[];
    };
    expect(metrics.pools[0]).toMatchObject({ name: 'default', busy: 2 });

    for (let i = 0; i < 3; i++) {
      await until(() => s.gates.length > i, `call ${i} running`);
      s.gates[i]!.open();
    }
    await Promise.all(calls);
  });
});

function frameOf(text: string): Buffer {
  const body = Buffer.from(text);
  const head = Buffer.alloc(4);
  head.writeUInt32BE(body.length);
  return Buffer.concat([head, body]);
}

function oversizedHeader(): Buffer {
  const head = Buffer.alloc(4);
  head.writeUInt32BE(17 * 1024 * 1024);
  return head;
}
