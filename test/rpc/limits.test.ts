// What a peer can cost a server: before login a small frame limit and a deadline, a bound on
// connections per host, per peer and in total, an idle timeout after login, and backpressure on a
// peer that does not read its replies. Timing rules run on the simulator's virtual clock (exact
// instants); byte and connection bounds run over real TCP.
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  DEFAULT_CLIENT_IDLE_TIMEOUT_MS,
  DEFAULT_SERVER_CONNECTION_LIMITS,
  RpcClient,
  decode,
  encode,
  type ServerConnectionLimits,
} from '../../src/rpc/index.js';
import { macrotaskHop } from '../../src/sim/drive.js';
import { REAL_NETWORK_LIMITS, realSubstrate, TcpNetwork, type TcpConnection } from '../../src/substrate/real/index.js';
import { SimWorld } from '../../src/substrate/sim/index.js';
import type { Connection, Substrate } from '../../src/substrate/types.js';
import { ThreadRegistry } from '../../src/threads/index.js';
import { until } from '../support/gate.js';
import { startTestServer } from '../support/rpc-server.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

const quiet = (): void => {};

async function startServer(substrate: Substrate, limits: Partial<ServerConnectionLimits> = {}, host = '127.0.0.1') {
  const s = await startTestServer(substrate, { limits, listen: { host, port: host === '127.0.0.1' ? 0 : 16000 } });
  cleanups.push(() => s.server.stop());
  return s;
}

/** A raw TCP client: what it received, and a promise of the server closing on it. */
function raw(port: number): { socket: net.Socket; received: () => Buffer; closed: Promise<void> } {
  const socket = net.connect({ host: '127.0.0.1', port });
  const chunks: Buffer[] = [];
  socket.on('data', (b: Buffer) => chunks.push(b));
  socket.on('error', quiet);
  const closed = new Promise<void>((r) => socket.once('close', () => r()));
  cleanups.push(() => {
    socket.destroy();
  });
  return { socket, received: () => Buffer.concat(chunks), closed };
}

function frame(body: string | Uint8Array): Buffer {
  const b = typeof body === 'string' ? Buffer.from(body) : Buffer.from(body);
  const h = Buffer.alloc(4);
  h.writeUInt32BE(b.length, 0);
  return Buffer.concat([h, b]);
}

const hello = (node: string): Buffer => frame(JSON.stringify({ t: 'hello', node }));
const request = (id: number, m: string, a: unknown): Buffer =>
  frame(JSON.stringify({ t: 'req', id, m, a, cn: 'raw', ct: 1 }));

describe('before login', () => {
  it('12 connections announcing 16 MiB−1 frames are closed at their headers, holding nothing', async () => {
    const substrate = realSubstrate({ log: quiet });
    const s = await startServer(substrate);
    const header = Buffer.alloc(4);
    header.writeUInt32BE(16 * 1024 * 1024 - 1, 0);
    const body = Buffer.alloc(1024 * 1024, 0x61);
    const peers = Array.from({ length: 12 }, () => raw(s.addr.port));
    for (const p of peers) {
      p.socket.write(header);
      p.socket.write(body, () => {});
    }
    await Promise.all(peers.map((p) => p.closed));
    await until(() => substrate.network.stats().connections === 0, 'server side closed');
    expect(substrate.network.stats().bufferedInBytes).toBe(0);
  });

  it('a hello is the only frame accepted before login', async () => {
    const substrate = realSubstrate({ log: quiet });
    const s = await startServer(substrate);
    const p = raw(s.addr.port);
    p.socket.write(request(1, 'T.echo', 'sneaky'));
    await p.closed;
    expect(s.served()).toBe(0);
    expect(p.received().length).toBe(0);
  });

  it('connections not logged in are bounded per host, and in total', async () => {
    const substrate = realSubstrate({ log: quiet });
    const s = await startServer(substrate, { maxPreLoginPerHost: 3, maxConnections: 1000 });
    const waiting = [raw(s.addr.port), raw(s.addr.port), raw(s.addr.port)];
    await until(() => substrate.network.stats().connections === 3, 'three accepted');
    const fourth = raw(s.addr.port);
    await fourth.closed;
    // Logging in frees a slot for the host.
    waiting[0]!.socket.write(hello('a'));
    await until(() => waiting[0]!.received().length > 0, 'welcome');
    const fifth = raw(s.addr.port);
    fifth.socket.write(hello('b'));
    await until(() => fifth.received().length > 0, 'fifth welcomed');
    expect(fifth.received().toString()).toContain('"welcome"');

    const t = await startServer(realSubstrate({ log: quiet }), { maxConnections: 2 });
    const a = raw(t.addr.port);
    const b = raw(t.addr.port);
    a.socket.write(hello('a'));
    b.socket.write(hello('b'));
    await until(() => a.received().length > 0 && b.received().length > 0, 'two welcomed');
    await raw(t.addr.port).closed;
  });

  it('logged-in connections are bounded per peer: the extra one is told why', async () => {
    const s = await startServer(realSubstrate({ log: quiet }), { maxConnectionsPerPeer: 2 });
    const ok = [raw(s.addr.port), raw(s.addr.port)];
    for (const p of ok) p.socket.write(hello('worker-7'));
    await until(() => ok.every((p) => p.received().length > 0), 'two welcomed');
    const extra = raw(s.addr.port);
    extra.socket.write(hello('worker-7'));
    await extra.closed;
    const answer = JSON.parse(extra.received().subarray(4).toString()) as { e: { type: string; message: string } };
    expect(answer.e.type).toBe('TooManyConnections');
    expect(answer.e.message).toMatch(/2 connections from worker-7@127\.0\.0\.1 \(limit 2\)/);
    // Another peer is not affected.
    const other = raw(s.addr.port);
    other.socket.write(hello('worker-8'));
    await until(() => other.received().toString().includes('welcome'), 'other peer welcomed');
  });
});

describe('deadlines on virtual time', () => {
  async function simPair(): Promise<{ w: SimWorld; srv: Substrate; cli: Substrate }> {
    const w = new SimWorld({ seed: 7, hop: macrotaskHop, link: { latencyMs: 0, jitterMs: 0, loopbackLatencyMs: 0 } });
    const srv = w.addNode('srv');
    const cli = w.addNode('cli');
    return { w, srv, cli };
  }

  it('a connection that never logs in is closed at exactly the login deadline', async () => {
    const { w, srv, cli } = await simPair();
    const started = startServer(srv, {}, 'srv');
    await w.run(started);
    const pending = cli.network.connect({ host: 'srv', port: 16000 });
    await w.run(pending);
    const conn: Connection = await pending;
    const connectedMs = w.nowMs;
    let closedMs = -1;
    conn.onClose(() => (closedMs = w.nowMs));
    await w.run(() => closedMs >= 0);
    expect(closedMs - connectedMs).toBe(DEFAULT_SERVER_CONNECTION_LIMITS.loginTimeoutMs);
  });

  it('a logged-in connection closes exactly idleTimeoutMs after its last frame; a call in flight is not idleness', async () => {
    const { w, srv, cli } = await simPair();
    await w.run(startServer(srv, {}, 'srv'));
    const pending = cli.network.connect({ host: 'srv', port: 16000 });
    await w.run(pending);
    const conn = await pending;
    const connectedMs = w.nowMs;
    let replyMs = -1;
    let closedMs = -1;
    conn.onFrame((f) => {
      if ((decode(f) as { t: string }).t === 'res') replyMs = w.nowMs;
    });
    conn.onClose(() => (closedMs = w.nowMs));
    const idle = DEFAULT_SERVER_CONNECTION_LIMITS.idleTimeoutMs;
    conn.send(encode({ t: 'hello', node: 'cli' }));
    // The handler parks for two idle timeouts: no frame crosses, yet the call keeps it open.
    conn.send(encode({ t: 'req', id: 1, m: 'T.sleep', a: 2 * idle, cn: 'cli', ct: 1 }));
    await w.run(() => closedMs >= 0);
    expect(replyMs).toBe(connectedMs + 2 * idle);
    expect(closedMs).toBe(replyMs + idle);
  });

  it('a client closes its own idle connection first, at exactly its idle timeout', async () => {
    const { w, srv, cli } = await simPair();
    await w.run(startServer(srv, {}, 'srv'));
    const threads = new ThreadRegistry('cli', 'client', cli.pid, cli.clock);
    const rpc = new RpcClient({ node: 'cli', substrate: cli });
    cleanups.push(() => rpc.close());
    const peer = { node: 'srv', addr: { host: 'srv', port: 16000 } };
    await w.run(rpc.call(peer, 'T.echo', 1, { thread: threads.spawn('caller') }));
    const lastMs = w.nowMs;
    expect(w.stats().openConnections).toBeGreaterThan(0);
    await w.run(() => w.stats().openConnections === 0);
    expect(w.nowMs).toBe(lastMs + DEFAULT_CLIENT_IDLE_TIMEOUT_MS);
    expect(DEFAULT_CLIENT_IDLE_TIMEOUT_MS).toBeLessThan(DEFAULT_SERVER_CONNECTION_LIMITS.idleTimeoutMs);
    // The next call opens a new connection.
    const again = rpc.call(peer, 'T.echo', 2, { thread: threads.spawn('caller-2') });
    await w.run(again);
    expect(await again).toBe(2);
  });
});

describe('backpressure', () => {
  it('stops reading from a peer that leaves its replies unread, and loses nothing when it reads again', async () => {
    const network = new TcpNetwork({ log: quiet });
    const reply = new Uint8Array(64 * 1024);
    let delivered = 0;
    let maxOutBytes = 0;
    let server: TcpConnection | undefined;
    const listener = await network.listen({ host: '127.0.0.1', port: 0 }, (c) => {
      server = c as TcpConnection;
      c.onFrame(() => {
        delivered++;
        c.send(reply);
        maxOutBytes = Math.max(maxOutBytes, server!.bufferedOutBytes);
      });
    });
    cleanups.push(() => listener.close());
    const requests = 2000;
    const socket = net.connect({ host: '127.0.0.1', port: listener.address.port });
    cleanups.push(() => {
      socket.destroy();
    });
    socket.pause();
    socket.write(Buffer.concat(Array.from({ length: requests }, () => frame('r'))));
    await until(() => server?.readPaused === true, 'reading paused');
    expect(delivered).toBeLessThan(requests);
    // 128 MB of replies were asked for; what waits in this process stays near the pause mark.
    expect(maxOutBytes).toBeLessThanOrEqual(REAL_NETWORK_LIMITS.outboundPauseBytes + reply.length + 4);
    let receivedBytes = 0;
    socket.on('data', (b: Buffer) => (receivedBytes += b.length));
    socket.resume();
    await until(() => receivedBytes === requests * (reply.length + 4), 'every reply read', 30_000);
    expect(delivered).toBe(requests);
    expect(maxOutBytes).toBeLessThanOrEqual(REAL_NETWORK_LIMITS.outboundPauseBytes + reply.length + 4);
  });

  it('an RPC client that never reads its replies stops being served; its calls are served once it reads', async () => {
    const substrate = realSubstrate({ log: quiet });
    const s = await startServer(substrate);
    const p = raw(s.addr.port);
    p.socket.write(hello('greedy'));
    await until(() => p.received().length > 0, 'welcome');
    p.socket.pause();
    const calls = 4000;
    const payload = 'x'.repeat(16 * 1024);
    p.socket.write(Buffer.concat(Array.from({ length: calls }, (_, i) => request(i + 1, 'T.echo', payload))));
    await until(() => substrate.network.stats().readPaused === 1, 'server paused reading', 20_000);
    expect(s.served()).toBeLessThan(calls);
    p.socket.resume();
    await until(() => s.served() === calls, 'all calls served once the client reads', 30_000);
  });

  it('a connection whose peer leaves more than the hard limit unread is dropped', async () => {
    const network = new TcpNetwork({ log: quiet, limits: { outboundMaxBytes: 4 * 1024 * 1024 } });
    const listener = await network.listen({ host: '127.0.0.1', port: 0 }, (c) => c.onFrame(() => {}));
    cleanups.push(() => listener.close());
    const conn = await network.connect(listener.address);
    let error: Error | undefined;
    const closed = new Promise<void>((r) =>
      conn.onClose((e) => {
        error = e;
        r();
      }),
    );
    // The listener reads, but the frames are sent faster than one tick can flush: the client
    // side is not paused (it must keep reading replies), so only the hard limit bounds it.
    const big = new Uint8Array(1024 * 1024);
    for (let i = 0; i < 8 && !conn.closed; i++) conn.send(big);
    await closed;
    expect(error?.message).toMatch(/left \d+ bytes unread \(limit 4194304\)/);
  });
});
