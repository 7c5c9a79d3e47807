// Nodes are re-creatable on the same disk: a worker's WAL reopens where it stopped, a master's
// backup table survives, and workers find a restarted master through their reports.
import { describe, expect, it } from 'vitest';
import { Wal } from '../../src/cluster/index.js';
import { startLocalCluster } from '../../src/runtime/index.js';
import { RealDisk } from '../../src/substrate/real/index.js';
import { eventually } from '../barrier/fixture.js';

describe('restarts', () => {
  it('a restarted worker continues its WAL; a restarted master keeps its table and gets its workers back', async () => {
    const lc = await startLocalCluster({
      workers: 3,
      admin: false,
      worker: { reportIntervalMs: 50, walPreallocate: 2 },
    });
    const { cluster } = lc;
    try {
      for (let i = 0; i < 2; i++) expect((await cluster.rolllog({ mode: 'fixed' })).outcome).toBe('ok');
      const before = cluster.workers[0]!.wal.highestClosed;
      const w = await cluster.restartWorker(0);
      // A clean stop sealed the active segment; the new WAL continues after it.
      expect(w.wal.highestClosed).toBe(before + 1);
      expect(w.wal.currentSegment).toBe(before + 2);

      const rowsBefore = cluster.master.backupTable.rows();
      expect(rowsBefore).toHaveLength(3);
      const m = await cluster.restartMaster();
      expect(m.backupTable.rows()).toEqual(rowsBefore);
      await eventually(() => m.memberNames().length === 3, 5000);
      const r = await cluster.rolllog({ mode: 'fixed' });
      expect(r.outcome, r.error).toBe('ok');
      const rows = Object.fromEntries(m.backupTable.rows().map((x) => [x.server, x.segment]));
      for (const worker of cluster.workers) {
        const sealed = (await Wal.read(new RealDisk(), worker.wal.dir)).filter((s) => s.sealed).map((s) => s.seq);
        expect(rows[worker.name]).toBe(Math.max(...sealed));
      }
    } finally {
      await lc.stop();
    }
  });
});
