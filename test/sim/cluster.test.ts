import { describe, expect, it, vi } from 'vitest';
import { SimCluster, runSimulation } from '../../src/sim/run.js';
import { parseFaultSpec } from '../../src/sim/faults.js';
import { sweep, cliffs } from '../../src/sim/sweep.js';

describe('the real cluster on the simulated substrate', () => {
  it('reproduces the legacy cliff at handlers - 1 workers, at the 60,000 ms wall', async () => {
    for (const handlers of [10, 30]) {
      const points = await sweep({
        sizes: [handlers - 2, handlers - 1, handlers + 5],
        modes: ['legacy'],
        handlers: [handlers],
        seed: 5,
      });
      const [below, at, above] = points;
      expect(below!.outcome).toBe('ok');
      expect(below!.durationMs).toBeLessThan(100);
      for (const p of [at!, above!]) {
        expect(p.outcome).toBe('timeout');
        expect(p.durationMs).toBeGreaterThanOrEqual(60_000);
        expect(p.durationMs).toBeLessThanOrEqual(61_000);
      }
      expect(cliffs(points)).toEqual([{ mode: 'legacy', handlers, lastOk: handlers - 2, firstFail: handlers - 1 }]);
    }
  });

  it('runs fixed mode fast at a few hundred workers', async () => {
    const [r] = await runSimulation({ workers: 300, mode: 'fixed', handlers: 30, seed: 1 });
    expect(r!.outcome).toBe('ok');
    expect(r!.durationMs).toBeLessThan(1000);
    expect(r!.events).toBeGreaterThan(1000);
  });

  it('is deterministic: same seed, same trace; another seed, another trace', async () => {
    const run = async (seed: number): Promise<string[]> =>
      (await runSimulation({ workers: 12, mode: 'legacy', handlers: 10, seed, runs: 2 })).map(
        (r) => `${r.traceHash}@${r.durationMs}/${r.events}`,
      );
    const a = await run(11);
    const b = await run(11);
    const c = await run(12);
    expect(a).toEqual(b);
    expect(c[0]).not.toEqual(a[0]);
  });

  it('an abort through the harness ends a legacy deadlock at once, not at the timer, and reaches every worker', async () => {
    const sim = await SimCluster.start({ workers: 40, mode: 'legacy', handlers: 30, seed: 5 });
    try {
      // At 1 s the deadlock has long formed (every default handler stuck, calls queued).
      const abortAtMs = sim.originMs + 1_000;
      sim.world.at(abortAtMs, 'abort', () =>
        sim.cluster.abortProcedure('cycle: master default pool -> master default pool', {
          source: 'deadlock-detector',
        }),
      );
      const r = await sim.rolllog();
      expect(r.outcome).toBe('aborted');
      expect(r.error).toContain('deadlock-detector: cycle: master default pool');
      // The client learns within a few link delays of the abort, 59 s before the timer.
      expect(r.durationMs).toBeGreaterThanOrEqual(1_000);
      expect(r.durationMs).toBeLessThan(1_000 + 5);
      // Every worker ends with the detector's reason: from the coordinator's abort (at its next wake,
      // every 500 ms), or sooner from its own sanity-check call, withdrawn on the master.
      await sim.settle(500 + 10);
      expect(
        sim.cluster.workers
          .filter((w) => !w.member.subprocedure('rolllog')?.error?.message.includes('deadlock-detector: cycle'))
          .map((w) => `${w.name}: ${w.member.subprocedure('rolllog')?.error?.message ?? 'no error'}`),
      ).toEqual([]);
    } finally {
      sim.close();
    }
  });

  it('aborts a procedure with an error naming a worker that crashed mid-barrier', async () => {
    const sim = await SimCluster.start({
      workers: 5,
      mode: 'legacy',
      handlers: 30,
      seed: 3,
      // Inside the barrier, during the master's 20 ms sanity-check work.
      faults: parseFaultSpec('crash=worker-3@8ms'),
      procedureTimeoutMs: 5000,
      rpcTimeoutMs: 5000,
    });
    try {
      const r = await sim.rolllog();
      expect(r.outcome).not.toBe('ok');
      // The client's call times out; the master's procedure ends naming the member it lost.
      expect(r.procedureError).toMatch(/missing: worker-3/);
      expect(r.durationMs).toBeLessThan(5000 + 100);
      expect(sim.world.isAlive('worker-3')).toBe(false);
    } finally {
      sim.close();
    }
  });

  it('fails fast naming a crashed worker in fixed mode too', async () => {
    const sim = await SimCluster.start({
      workers: 5,
      mode: 'fixed',
      handlers: 30,
      seed: 4,
      faults: parseFaultSpec('crash=worker-2@0ms'),
    });
    try {
      const r = await sim.rolllog();
      expect(r.outcome).toBe('aborted');
      expect(r.error).toMatch(/worker-2/);
      // The acquire to a dead node is refused at once: no 60 s wait.
      expect(r.durationMs).toBeLessThan(1000);
    } finally {
      sim.close();
    }
  });

  it('lets the next rolllog succeed after a partition heals', async () => {
    const results = await runSimulation({
      workers: 6,
      mode: 'fixed',
      handlers: 30,
      seed: 9,
      procedureTimeoutMs: 2000,
      rpcTimeoutMs: 1000,
      runs: 3,
      // From 1 ms: mid-barrier, after the master connected to every worker.
      faults: parseFaultSpec('partition=1ms-3s:worker-2|worker-5'),
    });
    expect(results[0]!.outcome).not.toBe('ok');
    expect(results[0]!.error).toMatch(/worker-2|worker-5/);
    // Frames held by the partition arrive after the heal (as TCP retransmits them).
    expect(results[2]!.outcome).toBe('ok');
    // A partition that also blocks connecting: the SYN is retransmitted after the heal.
    const late = await runSimulation({
      workers: 6,
      mode: 'fixed',
      handlers: 30,
      seed: 9,
      procedureTimeoutMs: 2000,
      rpcTimeoutMs: 1000,
      runs: 4,
      faults: parseFaultSpec('partition=0ms-3s:worker-2'),
    });
    expect(late[0]!.outcome).not.toBe('ok');
    expect(late[late.length - 1]!.outcome).toBe('ok');
  });

  it('brings a crashed worker back and rolls it again', async () => {
    const sim = await SimCluster.start({
      workers: 4,
      mode: 'fixed',
      handlers: 30,
      seed: 2,
      procedureTimeoutMs: 2000,
      rpcTimeoutMs: 1000,
      faults: parseFaultSpec('crash=worker-4@0ms,restart=worker-4@100ms'),
    });
    try {
      const first = await sim.rolllog();
      expect(first.outcome).toBe('aborted');
      await sim.settle(500);
      const second = await sim.rolllog();
      expect(second.outcome).toBe('ok');
      expect(sim.world.isAlive('worker-4')).toBe(true);
      expect(sim.worker('worker-4').wal.highestClosed).toBeGreaterThanOrEqual(1);
    } finally {
      sim.close();
    }
  });

  it('survives dropped messages: retries or clean timeouts, never a hung simulator', async () => {
    const outcomes = new Set<string>();
    for (let seed = 0; seed < 8; seed++) {
      const results = await runSimulation({
        workers: 5,
        mode: seed % 2 === 0 ? 'fixed' : 'legacy',
        handlers: 30,
        seed,
        procedureTimeoutMs: 3000,
        rpcTimeoutMs: 1000,
        runs: 2,
        faults: parseFaultSpec('drop=0.05'),
      });
      for (const r of results) {
        outcomes.add(r.outcome);
        expect(r.error ?? '').not.toMatch(/simulation (stalled|exceeded|passed)/);
        if (r.outcome !== 'ok') expect(r.durationMs).toBeLessThan(3000 + 2 * 1000 + 500);
      }
    }
    expect(outcomes.has('ok')).toBe(true);
  });
});

describe('isolation from the host', () => {
  it('never arms a real timer or opens a real socket or file during a simulated run', async () => {
    const before = new Set(process.getActiveResourcesInfo());
    const timeouts = vi.spyOn(globalThis, 'setTimeout');
    const intervals = vi.spyOn(globalThis, 'setInterval');
    try {
      const results = await runSimulation({
        workers: 6,
        mode: 'legacy',
        handlers: 4,
        seed: 21,
        runs: 2,
        procedureTimeoutMs: 1500,
        rpcTimeoutMs: 1000,
        faults: parseFaultSpec('drop=0.01,partition=2ms-500ms:worker-1,crash=worker-2@3ms,restart=worker-2@300ms'),
        worker: { writeRate: 200 },
      });
      expect(results).toHaveLength(2);
      expect(timeouts).not.toHaveBeenCalled();
      expect(intervals).not.toHaveBeenCalled();
    } finally {
      vi.restoreAllMocks();
    }
    const opened = process.getActiveResourcesInfo().filter((r) => !before.has(r));
    expect(opened.filter((r) => /TCP|Pipe|FSReq|FileHandle|Timeout|UDP/.test(r))).toEqual([]);
  });
});
