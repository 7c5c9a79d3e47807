// rollcall analyze on live rollcall clusters captured through their nodes' /stacks: the incident
// at its real size (60 workers, 30 handlers) is a deadlock whose cycle spans master and workers;
// fixed mode under load is healthy.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { analyzeInputs } from '../../src/diagnose/inputs.js';
import { captureBundle } from '../../src/capture/index.js';
import { startLocalCluster } from '../../src/runtime/index.js';
import { captureLegacyHang } from '../report/legacy-capture.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'rollcall-live-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('analyze live rollcall clusters', () => {
  it('legacy at 60 workers / 30 handlers: deadlock, master default pool exhausted, cycle across master and workers', async () => {
    const { bundle } = await captureLegacyHang({ out: path.join(tmp, 'legacy'), workers: 60, handlers: 30 });
    const { result } = await analyzeInputs([bundle]);
    expect(result.verdict).toBe('deadlock');
    expect(result.samples).toBe(3);
    expect(result.nodes).toHaveLength(61);
    const master = result.pools.find((p) => p.node === 'master' && p.pool === 'default')!;
    expect(master).toMatchObject({ size: 30, busy: 30, exhausted: true });
    const d = result.deadlocks[0]!;
    expect(d.nodes).toContain('master');
    expect(d.nodes.some((n) => /^worker-\d+$/.test(n))).toBe(true);
    for (const step of d.cycle) expect(step.evidence.length).toBeGreaterThan(0);
    expect(JSON.stringify(d.cycle)).toMatch(/sanityCheckLogRoll/);
  }, 60_000);

  it('fixed mode at 60 workers while rolllogs run: healthy', async () => {
    const lc = await startLocalCluster({ workers: 60 });
    try {
      let running = true;
      const load = (async () => {
        while (running) await lc.cluster.rolllog({ mode: 'fixed' });
      })();
      await captureBundle({
        targets: lc.endpoints().map((e) => ({ name: e.name, kind: 'url' as const, spec: `${e.admin!}/stacks` })),
        intervalMs: 300,
        count: 3,
        outDir: path.join(tmp, 'fixed'),
      });
      running = false;
      await load;
    } finally {
      await lc.stop();
    }
    const { result } = await analyzeInputs([path.join(tmp, 'fixed')]);
    expect(result.deadlocks).toEqual([]);
    expect(
      result.verdict,
      JSON.stringify({
        reason: result.reason,
        notes: result.notes,
        pools: result.pools.filter((p) => p.busy >= p.size),
      }),
    ).toBe('healthy');
  }, 60_000);
});
