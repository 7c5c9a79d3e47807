// The simulated ZooKeeper and the coordination code over it, on virtual time: session expiry,
// ephemeral and sequential znodes, watches, partitions, and the failover and liveness windows the
// real-server tests (test/coordination) can only bound loosely on the wall clock.
import { describe, expect, it } from 'vitest';
import { parseZkUrl } from '../../src/coordination/zookeeper/connection.js';
import { macrotaskHop } from '../../src/sim/drive.js';
import { parseFaultSpec } from '../../src/sim/faults.js';
import { ZkSimCluster, runZkSimulation } from '../../src/sim/zookeeper.js';
import { SimWorld, type SimSubstrate } from '../../src/substrate/sim/index.js';
import { SimZooKeeperServer, simZkConnector } from '../../src/substrate/sim/zookeeper/index.js';
import { isZkError, type ZkSession, type ZkStateChange } from '../../src/substrate/zookeeper.js';

const SESSION_MS = 1_000;
const LATENCY_MS = 1;
const spec = parseZkUrl(`zookeeper://zookeeper:2181/rc?sessionTimeoutMs=${SESSION_MS}`);

interface Zk {
  world: SimWorld;
  server: SimZooKeeperServer;
  node: (name: string) => SimSubstrate;
  open: (name: string) => Promise<ZkSession>;
  sleep: (ms: number) => Promise<void>;
}

/** Runs `body` in a world with a ZooKeeper server and an exact link (1 ms, no jitter, instant commits). */
async function withZk<T>(body: (zk: Zk) => Promise<T>): Promise<T> {
  const world = new SimWorld({
    seed: 3,
    hop: macrotaskHop,
    link: { latencyMs: LATENCY_MS, jitterMs: 0 },
    limits: { maxVirtualMs: 600_000 },
  });
  world.addNode('zookeeper');
  for (const n of ['a', 'b', 'c']) world.addNode(n);
  const done = (async () => {
    const server = await SimZooKeeperServer.start(world.substrate('zookeeper'), {
      listen: { host: 'zookeeper', port: 2181 },
      writeMs: 0,
    });
    return body({
      world,
      server,
      node: (name) => world.substrate(name),
      open: (name) => simZkConnector(spec, { owner: name }, world.substrate(name)),
      sleep: (ms) => new Promise<void>((r) => world.substrate('c').clock.setTimer(ms, r)),
    });
  })();
  expect(await world.run(done)).toBe('done');
  return done;
}

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('simulated ZooKeeper', () => {
  it('expires a crashed owner exactly one session timeout after the server last heard from it', async () => {
    await withZk(async ({ world, open }) => {
      const a = await open('a');
      const b = await open('b');
      const fired: { type: string; path: string; atMs: number }[] = [];
      await a.create('/x', bytes('hi'), 'ephemeral');
      // The create's request reached the server one link delay before its answer came back.
      const heardMs = world.nowMs - LATENCY_MS;
      world.crash('a');
      expect(await b.exists('/x', (e) => fired.push({ ...e, atMs: world.nowMs }))).not.toBeNull();
      while (fired.length === 0) await new Promise<void>((r) => world.substrate('b').clock.setTimer(10, r));
      expect(fired).toEqual([{ type: 'deleted', path: '/x', atMs: heardMs + SESSION_MS + LATENCY_MS }]);
      expect(await b.exists('/x')).toBeNull();
    });
  });

  it('a partitioned client notices within 2/3 of the timeout, before the server expires it, and gets a new session after the heal', async () => {
    await withZk(async ({ world, open, sleep }) => {
      const a = await open('a');
      const b = await open('b');
      const states: (ZkStateChange & { atMs: number })[] = [];
      a.onStateChange((c) => states.push({ ...c, atMs: world.nowMs }));
      await a.create('/leader', undefined, 'ephemeral');
      let goneMs = 0;
      await b.exists('/leader', () => (goneMs = world.nowMs));
      const cutMs = world.nowMs;
      const id = world.partition(['a'], ['zookeeper']);
      await sleep(5_000);
      const disconnected = states.find((s) => s.state === 'disconnected')!;
      expect(disconnected.generation).toBe(1);
      expect(disconnected.atMs).toBeGreaterThan(cutMs);
      expect(disconnected.atMs).toBeLessThanOrEqual(cutMs + (2 * SESSION_MS) / 3);
      // The server last heard a ping at most a third of the timeout before the cut.
      expect(goneMs).toBeGreaterThan(disconnected.atMs);
      expect(goneMs).toBeGreaterThanOrEqual(cutMs + (2 * SESSION_MS) / 3);
      expect(goneMs).toBeLessThanOrEqual(cutMs + SESSION_MS + 2 * LATENCY_MS);
      await expect(a.exists('/leader')).rejects.toSatisfy((e) => isZkError(e, 'SESSION_EXPIRED', 'OPERATION_TIMEOUT'));
      world.heal(id);
      while (a.generation < 2) await sleep(100);
      expect(states.map((s) => `${s.state}/${s.generation}`)).toEqual(['disconnected/1', 'expired/1', 'connected/2']);
      expect(await a.exists('/leader')).toBeNull();
    });
  });

  it('keeps a session whose connection was cut for less than its timeout, and delivers the watch it missed', async () => {
    await withZk(async ({ world, node, sleep }) => {
      // Long enough that the reconnection (its SYN retransmitted a second after the heal) beats the expiry.
      const longSpec = parseZkUrl('zookeeper://zookeeper:2181/rc?sessionTimeoutMs=6000');
      const a = await simZkConnector(longSpec, { owner: 'a' }, node('a'));
      const b = await simZkConnector(longSpec, { owner: 'b' }, node('b'));
      await a.create('/dir');
      const seen: string[] = [];
      await a.getChildren('/dir', (e) => seen.push(`${e.type} ${e.path}`));
      const id = world.partition(['a'], ['zookeeper']);
      await b.create('/dir/child');
      const state = (): string => a.state;
      while (state() === 'connected') await sleep(10);
      expect(state()).toBe('disconnected');
      world.heal(id);
      while (state() !== 'connected') await sleep(10);
      expect(a.generation).toBe(1);
      expect(seen).toEqual(['children-changed /dir']);
    });
  });

  it('numbers sequential znodes by the parent, refuses what ZooKeeper refuses, and applies a multi whole or not at all', async () => {
    await withZk(async ({ open }) => {
      const a = await open('a');
      await a.mkdirp('/e');
      expect(await a.create('/e/n_', undefined, 'ephemeral-sequential')).toBe('/e/n_0000000000');
      await a.create('/e/other');
      expect(await a.create('/e/n_', undefined, 'persistent-sequential')).toBe('/e/n_0000000002');
      await expect(a.create('/e/other')).rejects.toSatisfy((e) => isZkError(e, 'NODE_EXISTS'));
      await expect(a.create('/missing/x')).rejects.toSatisfy((e) => isZkError(e, 'NO_NODE'));
      await expect(a.create('/e/n_0000000000/x')).rejects.toSatisfy((e) => isZkError(e, 'NO_CHILDREN_FOR_EPHEMERALS'));
      await expect(a.delete('/e')).rejects.toSatisfy((e) => isZkError(e, 'NOT_EMPTY'));
      const stat = await a.setData('/e/other', bytes('v1'));
      await expect(a.setData('/e/other', bytes('v2'), stat.version + 5)).rejects.toSatisfy((e) =>
        isZkError(e, 'BAD_VERSION'),
      );
      await expect(
        a.multi([
          { op: 'create', path: '/e/m1' },
          { op: 'create', path: '/e/other' },
        ]),
      ).rejects.toSatisfy((e) => isZkError(e, 'NODE_EXISTS'));
      expect(await a.exists('/e/m1')).toBeNull();
      await a.multi([
        { op: 'check', path: '/e/other', version: stat.version },
        { op: 'create', path: '/e/m1', data: bytes('x') },
      ]);
      expect(new TextDecoder().decode((await a.getData('/e/m1')).data)).toBe('x');
      await a.deleteTree('/e');
      expect(await a.getChildren('/')).toEqual([]);
    });
  });

  it('removes a closed session’s ephemerals at once; a crashed one keeps them for its timeout', async () => {
    await withZk(async ({ world, open, server }) => {
      const a = await open('a');
      const b = await open('b');
      await a.create('/closed', undefined, 'ephemeral');
      await b.create('/crashed', undefined, 'ephemeral');
      const c = await open('c');
      await a.close();
      expect(await c.exists('/closed')).toBeNull();
      b.crash();
      const crashedMs = world.nowMs;
      expect(await c.exists('/crashed')).not.toBeNull();
      while ((await c.exists('/crashed')) !== null)
        await new Promise<void>((r) => world.substrate('c').clock.setTimer(50, r));
      // Counted from the last frame the server heard from b, at most a ping interval before the crash.
      expect(world.nowMs - crashedMs).toBeGreaterThan((2 * SESSION_MS) / 3 - 2 * LATENCY_MS);
      expect(world.nowMs - crashedMs).toBeLessThanOrEqual(SESSION_MS + 50 + 2 * LATENCY_MS);
      expect(server.sessionCount).toBe(1);
    });
  });
});

describe('coordination over the simulated ZooKeeper', () => {
  const base = { workers: 5, mode: 'fixed' as const, handlers: 30, sessionTimeoutMs: 2_000 };

  it('the standby finishes the run the master was in when it crashed, one session timeout later; same seed, same trace', async () => {
    const run = (): ReturnType<typeof runZkSimulation> =>
      runZkSimulation({ ...base, seed: 7, faults: parseFaultSpec('crash=master@300ms') });
    const first = await run();
    const last = first[first.length - 1]!;
    expect(first.slice(0, -1).every((r) => r.outcome === 'ok' && r.master === 'master')).toBe(true);
    expect(last).toMatchObject({ outcome: 'ok', master: 'master-2' });
    // Started before the crash at 300 ms (virtual, from the first run), ended after the standby
    // won: the master's session had to expire first.
    expect(last.durationMs).toBeGreaterThan(2_000 - 300);
    expect(last.durationMs).toBeLessThan(2_000 + 300);
    const again = await run();
    expect(again.map((r) => r.traceHash)).toEqual(first.map((r) => r.traceHash));
  });

  it('aborts a run whose member dies mid-barrier within the session timeout, not the 60 s procedure timer', async () => {
    const sc = await ZkSimCluster.start({ ...base, seed: 2, faults: parseFaultSpec('crash=worker-3@2ms') });
    try {
      const r = await sc.rolllog();
      expect(r.outcome).toBe('aborted');
      expect(r.error).toMatch(/worker-3/);
      expect(r.durationMs).toBeGreaterThan(2_000 * (2 / 3));
      expect(r.durationMs).toBeLessThan(2_000 + 500);
      // With worker-3's session gone, the next run goes ahead without it.
      const next = await sc.rolllog();
      expect(next.outcome).toBe('ok');
      await sc.finish();
    } finally {
      sc.close();
    }
  });

  it('an expired master session hands over to the standby; the old master comes back as the standby', async () => {
    const results = await runZkSimulation({
      ...base,
      seed: 11,
      runGapMs: 100,
      faults: parseFaultSpec('expire=master@250ms'),
    });
    expect(results.every((r) => r.outcome === 'ok')).toBe(true);
    expect(results[0]!.master).toBe('master');
    expect(results[results.length - 1]!.master).toBe('master-2');
  });

  it('a worker cut off from ZooKeeper for longer than its session loses its part; it rejoins after the heal', async () => {
    const results = await runZkSimulation({
      ...base,
      seed: 5,
      runGapMs: 200,
      faults: parseFaultSpec('partition=100ms-3s:worker-2/zookeeper'),
    });
    expect(results.some((r) => r.outcome === 'aborted' && /worker-2/.test(r.error ?? ''))).toBe(true);
    expect(results[results.length - 1]!.outcome).toBe('ok');
  });
});
