// rolllog end to end over real TCP on loopback: legacy mode deadlocks at scale and only its
// timers end it; fixed mode does not; the backup table matches the WAL files on disk. How long each
// takes is timed exactly on virtual time (test/sim/cluster.test.ts), never here on the wall clock.
import { describe, expect, it } from 'vitest';
import { Wal } from '../../src/cluster/index.js';
import { startLocalCluster, type LocalCluster } from '../../src/runtime/index.js';
import { RealDisk } from '../../src/substrate/real/index.js';
import { eventually } from '../barrier/fixture.js';

const TIMEOUT_MS = 2500;

async function withCluster<T>(workers: number, fn: (lc: LocalCluster) => Promise<T>): Promise<T> {
  const lc = await startLocalCluster({
    workers,
    admin: false,
    master: { rpcTimeoutMs: TIMEOUT_MS, procedureTimeoutMs: TIMEOUT_MS },
    worker: { rpcTimeoutMs: TIMEOUT_MS, memberTimeoutMs: 60_000, walPreallocate: 0 },
  });
  try {
    return await fn(lc);
  } finally {
    await lc.stop();
  }
}

/** The highest sealed (closed) WAL segment of each worker, read from its files. */
async function sealedOnDisk(lc: LocalCluster): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const w of lc.cluster.workers) {
    const segs = await Wal.read(new RealDisk(), w.wal.dir);
    out[w.name] = Math.max(...segs.filter((s) => s.sealed).map((s) => s.seq));
  }
  return out;
}

describe('rolllog', () => {
  it('legacy mode succeeds at 10 workers', async () => {
    await withCluster(10, async (lc) => {
      for (let i = 0; i < 2; i++) {
        const r = await lc.cluster.rolllog({ mode: 'legacy' });
        expect(r.outcome, r.error).toBe('ok');
      }
      // The sanity checks wrote every worker's row.
      expect(lc.cluster.master.backupTable.readRegionServerLastLogRollResult('backup://default')).toEqual(
        await sealedOnDisk(lc),
      );
    });
  });

  it('legacy mode deadlocks the master at 60 workers / 30 handlers until the timeout; the cluster recovers; fixed mode works', async () => {
    await withCluster(60, async (lc) => {
      const { cluster } = lc;
      const pending = cluster.rolllog({ mode: 'legacy' });
      // While it hangs: every default handler is busy and calls are queued behind them.
      const handlers = () => cluster.master.threads.dump().threads.filter((t) => t.pool === 'default');
      const pool = (): { busy: number; queuedTotal: number } => cluster.master.server.pool('default')!.snapshot();
      const stuckWorkers = () =>
        cluster.workers
          .flatMap((w) => w.threads.dump().threads)
          .filter((t) => t.wait?.kind === 'rpc' && t.wait.method === 'BackupService.sanityCheckLogRoll');
      // Settled: all 30 busy, calls queued, no handler still doing its check work, and every
      // worker has sent its callback (under a loaded suite the last worker can lag the master).
      await eventually(
        () =>
          pool().busy === 30 &&
          pool().queuedTotal > 0 &&
          handlers().every((t) => t.wait?.kind === 'rpc' || t.wait?.kind === 'barrier') &&
          stuckWorkers().length === 60,
        TIMEOUT_MS,
      );
      const threads = handlers();
      const exec = threads.filter((t) => t.serving?.method === 'MasterService.execProcedure');
      expect(exec).toHaveLength(1);
      expect(exec[0]!.wait).toMatchObject({ kind: 'barrier', procedure: 'rolllog', phase: 'completed' });
      expect(exec[0]!.wait?.kind === 'barrier' && exec[0]!.wait.missing.length).toBe(60);
      const checks = threads.filter((t) => t.serving?.method === 'BackupService.sanityCheckLogRoll');
      expect(checks).toHaveLength(29);
      for (const c of checks) {
        expect(c.wait).toMatchObject({
          kind: 'rpc',
          target: 'master',
          method: 'BackupSystemTableService.readRegionServerLastLogRollResult',
        });
      }
      const stuckWorker = stuckWorkers();
      expect(stuckWorker.length).toBe(60);
      expect(stuckWorker[0]!.name).toMatch(/^member: 'worker-\d+' subprocedure-pool-\d+$/);

      const r = await pending;
      expect(r.outcome).toBe('timeout');

      // Only timers end it; afterwards the stuck calls drain and the next run works.
      expect(await cluster.client.waitForProcedureEnd('rolllog', 3 * TIMEOUT_MS)).toBe(true);
      const status = await cluster.client.getProcedureResult({ name: 'rolllog' }, 5000);
      expect(status.ok).toBe(false);
      expect(status.error?.timeout).toBe(true);
      const fixed = await cluster.rolllog({ mode: 'fixed' });
      expect(fixed.outcome, fixed.error).toBe('ok');
      expect(cluster.master.backupTable.readRegionServerLastLogRollResult('backup://default')).toEqual(
        await sealedOnDisk(lc),
      );
    });
  });

  it('an abort through the harness (the online detector lever) ends a legacy deadlock at once and reaches every worker', async () => {
    await withCluster(40, async (lc) => {
      const { cluster } = lc;
      const pending = cluster.rolllog({ mode: 'legacy' });
      await eventually(() => cluster.master.server.pool('default')!.snapshot().queuedTotal > 0, TIMEOUT_MS);
      expect(cluster.registries().map((r) => r.node)).toEqual([
        'master',
        ...cluster.workers.map((w) => w.name),
        'client',
      ]);
      expect(
        cluster.abortProcedure('cycle: master default pool -> master default pool', { source: 'deadlock-detector' }),
      ).toBe(true);
      const r = await pending;
      expect(r.outcome).toBe('failed');
      expect(r.error).toContain('deadlock-detector: cycle: master default pool');
      await eventually(() =>
        cluster.workers.every((w) => w.member.subprocedure('rolllog')?.error?.source === 'deadlock-detector'),
      );
    });
  });

  it('fixed mode at 60 workers: results travel in the barrier, rows equal the segment files on disk', async () => {
    await withCluster(60, async (lc) => {
      for (let i = 0; i < 3; i++) {
        const r = await lc.cluster.rolllog({ mode: 'fixed' });
        expect(r.outcome, r.error).toBe('ok');
        expect(r.result?.members).toBe(60);
      }
      const rows = lc.cluster.master.backupTable.rows('backup://default');
      expect(rows).toHaveLength(60);
      expect(Object.fromEntries(rows.map((r) => [r.server, r.segment]))).toEqual(await sealedOnDisk(lc));
      expect(new Set(rows.map((r) => r.segment))).toEqual(new Set([3]));
      // No handler of the master stayed parked: fixed mode holds none for the barrier.
      expect(lc.cluster.master.server.pool('default')!.snapshot().busy).toBe(0);
    });
  });
});
