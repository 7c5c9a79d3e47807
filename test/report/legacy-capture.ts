// A real legacy-mode hang, captured the way a user would: an in-process cluster over TCP (master,
// worker-1…), rolllog in legacy mode with more workers than free default handlers, then
// synchronized dumps of every node's admin /stacks into a bundle. Small pools keep it fast (about
// a second); the shape is the incident's: every master default handler holds a worker's check
// waiting on a nested call queued behind them.
import { captureBundle } from '../../src/capture/index.js';
import { startLocalCluster } from '../../src/runtime/index.js';
import { eventually } from '../barrier/fixture.js';

/** Runs of rolllog tried until the checks overlap and the hang forms. */
const MAX_ATTEMPTS = 5;

export interface LegacyCaptureOptions {
  /** Bundle directory to create. */
  out: string;
  workers?: number;
  /** Master default-pool handlers; below workers + 1 the hang fires. */
  handlers?: number;
  rounds?: number;
  intervalMs?: number;
}

export interface LegacyCapture {
  bundle: string;
  nodes: string[];
}

export async function captureLegacyHang(options: LegacyCaptureOptions): Promise<LegacyCapture> {
  const workers = options.workers ?? 8;
  const handlers = options.handlers ?? 6;
  // Timers far beyond the capture: only our abort ends the procedure.
  const timeoutMs = 120_000;
  const lc = await startLocalCluster({
    workers,
    master: { handlers, rpcTimeoutMs: timeoutMs, procedureTimeoutMs: timeoutMs },
    worker: { rpcTimeoutMs: timeoutMs, memberTimeoutMs: timeoutMs, walPreallocate: 0 },
  });
  try {
    const { cluster } = lc;
    const pool = () => cluster.master.server.pool('default')!.snapshot();
    const handlerThreads = () => cluster.master.threads.dump().threads.filter((t) => t.pool === 'default');
    const hung = (): boolean =>
      pool().busy === handlers &&
      pool().queuedTotal > 0 &&
      handlerThreads().every((t) => t.wait?.kind === 'rpc' || t.wait?.kind === 'barrier');
    // The hang needs the workers' checks to overlap; on a loaded machine they sometimes arrive far
    // enough apart that a run completes. Such a run is not the case under test: run again.
    let pending: Promise<unknown> = Promise.resolve();
    for (let attempt = 1; ; attempt++) {
      let ended = false;
      pending = cluster.rolllog({ mode: 'legacy' }).then(
        () => (ended = true),
        () => (ended = true),
      );
      await eventually(() => ended || hung(), 20_000);
      if (hung()) break;
      if (attempt >= MAX_ATTEMPTS) throw new Error(`the legacy hang did not form in ${MAX_ATTEMPTS} runs`);
    }
    const endpoints = lc.endpoints();
    const manifest = await captureBundle({
      targets: endpoints.map((e) => ({ name: e.name, kind: 'url', spec: `${e.admin!}/stacks` })),
      // Wide enough that a loaded CI machine (2 cores, other test files alongside) answers every
      // /stacks before the next round: tests of the analysis want every sample.
      intervalMs: options.intervalMs ?? 500,
      count: options.rounds ?? 3,
      outDir: options.out,
    });
    const failed = manifest.captures.filter((c) => c.error !== undefined);
    if (failed.length > 0)
      throw new Error(`capture failed: ${failed.map((c) => `${c.node} round ${c.round}: ${c.error}`).join('; ')}`);
    cluster.abortProcedure('capture done');
    await pending;
    return { bundle: options.out, nodes: endpoints.map((e) => e.name) };
  } finally {
    await lc.stop();
  }
}
