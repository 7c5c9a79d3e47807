import { afterEach, describe, expect, it } from 'vitest';
import { ForeignException, MemberSet, ProcedureRejectedError } from '../../src/barrier/index.js';
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

  it('a member that never answers times the procedure out, naming it', async () => {
    fx = await startBarrierFixture({
      members: 3,
      timeoutMs: 300,
      wakeIntervalMs: 50,
      behaviour: (m) => (m === 'worker-2' ? { kind: 'hang-acquire' } : { kind: 'ok' }),
    });
    const t0 = performance.now();
    const outcome = await fx.coordinator.startProcedure({ signature: 's', name: 'p', args: null, members: names(3) })
      .completion;
    const elapsed = performance.now() - t0;
    expect(outcome.ok).toBe(false);
    expect(outcome.error?.timeout).toBe(true);
    expect(outcome.error?.message).toMatch(/timed out after 300 ms in phase acquiring/);
    expect(outcome.error?.message).toContain('1 of 3 members missing: worker-2');
    expect(elapsed).toBeGreaterThanOrEqual(295);
    expect(elapsed).toBeLessThan(2000);
    // Members that acquired were told.
    await eventually(() =>
      ['worker-1', 'worker-3'].every((n) => fx!.members.find((m) => m.name === n)!.aborts.length === 1),
    );
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

  it('an abort reaches members that already acquired, while another is still acquiring', async () => {
    fx = await startBarrierFixture({
      members: 4,
      behaviour: (m) => (m === 'worker-4' ? { kind: 'slow-acquire', delayMs: 400 } : { kind: 'ok' }),
    });
    const proc = fx.coordinator.startProcedure({ signature: 's', name: 'p', args: null, members: names(4) });
    await eventually(() => proc.missing().length === 1 && proc.state === 'acquiring');
    expect(proc.missing()).toEqual(['worker-4']);
    // The coordinator thread is parked on the barrier, listing who is missing.
    const coordThread = fx.coordinatorThreads.all().find((t) => t.name.startsWith('(coord)-proc-coordinator-pool'));
    expect(coordThread?.snapshot().wait).toMatchObject({
      kind: 'barrier',
      procedure: 'p',
      phase: 'acquired',
      missing: ['worker-4'],
    });
    expect(fx.coordinator.abortProcedure('p', new ForeignException('deadlock-detector', 'cycle: a -> b -> a'))).toBe(
      true,
    );
    const outcome = await proc.completion;
    expect(outcome.error?.source).toBe('deadlock-detector');
    await eventually(() =>
      ['worker-1', 'worker-2', 'worker-3'].every((n) => fx!.members.find((m) => m.name === n)!.aborts.length > 0),
    );
    for (const n of ['worker-1', 'worker-2', 'worker-3']) {
      expect(fx.members.find((m) => m.name === n)!.aborts[0]!.message).toContain('cycle: a -> b -> a');
    }
  });

  it('the member timer aborts the subprocedure locally and tells the coordinator', async () => {
    fx = await startBarrierFixture({
      members: 2,
      memberTimeoutMs: 200,
      behaviour: (m) => (m === 'worker-2' ? { kind: 'stay-inside' } : { kind: 'ok' }),
    });
    const outcome = await fx.coordinator.startProcedure({ signature: 's', name: 'p', args: null, members: names(2) })
      .completion;
    expect(outcome.error?.source).toBe('worker-2');
    expect(outcome.error?.timeout).toBe(true);
    expect(outcome.error?.message).toMatch(/subprocedure p .* timed out after 200 ms in phase inside/);
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
