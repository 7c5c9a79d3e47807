import { afterEach, describe, expect, it } from 'vitest';
import { ForeignException, MemberSet, ProcedureRejectedError } from '../../src/barrier/index.js';
import { macrotaskHop } from '../../src/sim/drive.js';
import { SimWorld } from '../../src/substrate/sim/index.js';
import { eventually, startBarrierFixture, type BarrierFixture } from './fixture.js';

let fx: BarrierFixture | undefined;
afterEach(async () => {
  await fx?.stop();
  fx = undefined;
});

const names = (n: number): string[] => Array.from({ length: n }, (_, i) => `worker-${i + 1}`);

describe('two-phase barrier over RPC', () => {
  it('runs acquire, reached and completed on every member and collects their results', async () => {
    fx = await startBarrierFixture({ members: 5, behaviour: (m) => ({ kind: 'ok', result: { from: m } }) });
    const proc = fx.coordinator.startProcedure({
      signature: 'test-proc',
      name: 'test',
      args: { x: 1 },
      members: names(5),
    });
    const outcome = await proc.completion;
    expect(outcome.ok).toBe(true);
    expect(outcome.members).toBe(5);
    expect([...outcome.results.keys()].sort()).toEqual(names(5));
    expect(outcome.results.get('worker-3')).toEqual({ from: 'worker-3' });
    for (const m of fx.members) expect(m.events).toEqual(['acquire', 'inside']);
    const timings = proc.timings();
    expect(timings.every((t) => t.acquiredAfterMs !== undefined && t.completedAfterMs! >= t.acquiredAfterMs!)).toBe(
      true,
    );
    expect(outcome.phases.acquiredMs! <= outcome.phases.releasedMs!).toBe(true);
    // A finished procedure frees its name: the next one starts.
    const again = await fx.coordinator.startProcedure({
      signature: 'test-proc',
      name: 'test',
      args: {},
      members: names(5),
    }).completion;
    expect(again.ok).toBe(true);
  });

  it('a member error aborts the procedure, names the member, and reaches every member', async () => {
    fx = await startBarrierFixture({
      members: 4,
      behaviour: (m) => (m === 'worker-3' ? { kind: 'fail-inside', message: 'disk full' } : { kind: 'stay-inside' }),
    });
    const outcome = await fx.coordinator.startProcedure({ signature: 's', name: 'p', args: null, members: names(4) })
      .completion;
    expect(outcome.ok).toBe(false);
    expect(outcome.error?.source).toBe('worker-3');
    expect(outcome.error?.message).toContain('disk full');
    expect(outcome.error?.timeout).toBe(false);
    await eventually(() => fx!.members.every((m) => m.aborts.length === 1));
    for (const m of fx.members) expect(m.aborts[0]!.source).toBe('worker-3');
  });

  it('rejects a second start of a running procedure name with a clear error', async () => {
    fx = await startBarrierFixture({ members: 2, behaviour: () => ({ kind: 'stay-inside' }) });
    const first = fx.coordinator.startProcedure({ signature: 's', name: 'rolllog', args: null, members: names(2) });
    expect(() =>
      fx!.coordinator.startProcedure({ signature: 's', name: 'rolllog', args: null, members: names(2) }),
    ).toThrow(ProcedureRejectedError);
    expect(() =>
      fx!.coordinator.startProcedure({ signature: 's', name: 'rolllog', args: null, members: names(2) }),
    ).toThrow(/procedure 'rolllog' is already running \(instance 1\./);
    // Another name is independent.
    const other = fx.coordinator.startProcedure({ signature: 's', name: 'other', args: null, members: [] });
    expect((await other.completion).ok).toBe(true);
    fx.coordinator.abortProcedure('rolllog', new ForeignException('operator', 'enough'));
    expect((await first.completion).error?.source).toBe('operator');
  });
});

/** One-way link delay of the simulated world: the timing tests' unit of network time. */
const LATENCY_MS = 1;

/** A simulated world holding the fixture's nodes; its runs are exact in virtual time. */
function simWorld(members: number): SimWorld {
  const w = new SimWorld({ seed: 1, hop: macrotaskHop, link: { latencyMs: LATENCY_MS, jitterMs: 0 } });
  w.addNode('coord');
  for (const n of names(members)) w.addNode(n);
  return w;
}

/** Runs the world until `p` settles. */
async function drive<T>(w: SimWorld, p: Promise<T>): Promise<T> {
  expect(await w.run(p)).toBe('done');
  return p;
}

describe('two-phase barrier timing, on virtual time', () => {
  it('a member that never answers times the procedure out at its timeout, naming it; members that acquired are told', async () => {
    const w = simWorld(3);
    const f = await drive(
      w,
      startBarrierFixture({
        world: w,
        members: 3,
        timeoutMs: 300,
        wakeIntervalMs: 50,
        behaviour: (m) => (m === 'worker-2' ? { kind: 'hang-acquire' } : { kind: 'ok' }),
      }),
    );
    const proc = f.coordinator.startProcedure({ signature: 's', name: 'p', args: null, members: names(3) });
    const t0 = w.nowMs;
    const outcome = await drive(w, proc.completion);
    expect(outcome.ok).toBe(false);
    expect(outcome.error?.timeout).toBe(true);
    expect(outcome.error?.message).toMatch(/timed out after 300 ms in phase acquiring/);
    expect(outcome.error?.message).toContain('1 of 3 members missing: worker-2');
    // The timer fires at 300 ms; the coordinator notices at its next wake (every 50 ms) and tells
    // the members that acquired, one link delay away.
    await w.run(() => ['worker-1', 'worker-3'].every((n) => f.members.find((m) => m.name === n)!.aborts.length === 1));
    for (const n of ['worker-1', 'worker-3']) {
      const at = f.members.find((m) => m.name === n)!.abortedAtMs[0]! - t0;
      expect(at).toBeGreaterThanOrEqual(300 + LATENCY_MS);
      expect(at).toBeLessThanOrEqual(300 + 50 + 2 * LATENCY_MS);
    }
    await drive(w, f.stop());
  });

  it('an abort reaches members that already acquired, while another is still acquiring', async () => {
    const w = simWorld(4);
    const f = await drive(
      w,
      startBarrierFixture({
        world: w,
        members: 4,
        wakeIntervalMs: 50,
        behaviour: (m) => (m === 'worker-4' ? { kind: 'slow-acquire', delayMs: 400 } : { kind: 'ok' }),
      }),
    );
    const proc = f.coordinator.startProcedure({ signature: 's', name: 'p', args: null, members: names(4) });
    await w.run(() => proc.missing().length === 1 && proc.state === 'acquiring');
    expect(proc.missing()).toEqual(['worker-4']);
    // The coordinator thread is parked on the barrier, listing who is missing.
    const coordThread = f.coordinatorThreads.all().find((t) => t.name.startsWith('(coord)-proc-coordinator-pool'));
    expect(coordThread?.snapshot().wait).toMatchObject({
      kind: 'barrier',
      procedure: 'p',
      phase: 'acquired',
      missing: ['worker-4'],
    });
    const abortedAt = w.nowMs;
    expect(f.coordinator.abortProcedure('p', new ForeignException('deadlock-detector', 'cycle: a -> b -> a'))).toBe(
      true,
    );
    const outcome = await drive(w, proc.completion);
    expect(outcome.error?.source).toBe('deadlock-detector');
    const acquired = ['worker-1', 'worker-2', 'worker-3'].map((n) => f.members.find((m) => m.name === n)!);
    await w.run(() => acquired.every((m) => m.aborts.length > 0));
    for (const m of acquired) {
      expect(m.aborts[0]!.message).toContain('cycle: a -> b -> a');
      // Long before worker-4's 400 ms acquire ends: at the coordinator's next wake, one link away.
      expect(m.abortedAtMs[0]! - abortedAt).toBeLessThanOrEqual(50 + 2 * LATENCY_MS);
    }
    await drive(w, f.stop());
  });

  it('the member timer aborts the subprocedure locally, exactly at its timeout, and tells the coordinator', async () => {
    const w = simWorld(2);
    const f = await drive(
      w,
      startBarrierFixture({
        world: w,
        members: 2,
        memberTimeoutMs: 200,
        behaviour: (m) => (m === 'worker-2' ? { kind: 'stay-inside' } : { kind: 'ok' }),
      }),
    );
    const outcome = await drive(
      w,
      f.coordinator.startProcedure({ signature: 's', name: 'p', args: null, members: names(2) }).completion,
    );
    expect(outcome.error?.source).toBe('worker-2');
    expect(outcome.error?.timeout).toBe(true);
    expect(outcome.error?.message).toMatch(/subprocedure p .* timed out after 200 ms in phase inside/);
    // The timer runs from the start of worker-2's subprocedure, and ends it at exactly 200 ms.
    const w2 = f.members[1]!;
    expect(w2.abortedAtMs.map((at, i) => at - w2.acquiredAtMs[i]!)).toEqual([200]);
    await drive(w, f.stop());
  });
});

describe('MemberSet', () => {
  it('removes in O(1) and keeps a live list', () => {
    const s = new MemberSet(['a', 'b', 'c', 'd']);
    const live = s.list;
    expect(s.delete('b')).toBe(true);
    expect(s.delete('b')).toBe(false);
    expect([...live].sort()).toEqual(['a', 'c', 'd']);
    expect(s.has('d')).toBe(true);
    s.delete('d');
    s.delete('a');
    expect(live).toEqual(['c']);
    expect(s.size).toBe(1);
  });
});
