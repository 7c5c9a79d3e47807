// The runtime's detector and predictor inside the simulator: the same DeadlockDetector (ticking on
// virtual time, reading every node's registry instead of its admin listener) and the same
// latent-deadlock predictor, on the same cluster code — so detection latency and prediction can be
// measured over many seeds in seconds.
import {
  DeadlockDetector,
  DEFAULT_DETECT_INTERVAL_MS,
  watchCluster,
  type DeadlockOut,
  type Prediction,
} from '../detect/index.js';
import { SimCluster, type SimRunOptions, type SimRunResult } from './run.js';

export interface SimDetectionResult extends SimRunResult {
  /** 'deadlock-detected' when the detector aborted the procedure. */
  detected: boolean;
  /** Virtual ms from the rolllog's start to the proof. */
  detectedAfterMs?: number;
  cycle?: DeadlockOut;
}

/** One rolllog with the online detector running every intervalMs of virtual time. */
export async function simulateWithDetector(
  opts: SimRunOptions & { detectIntervalMs?: number },
): Promise<SimDetectionResult> {
  const sim = await SimCluster.start(opts);
  try {
    const cluster = sim.cluster;
    const detector = new DeadlockDetector({
      clock: cluster.master.substrate.clock,
      intervalMs: opts.detectIntervalMs ?? DEFAULT_DETECT_INTERVAL_MS,
      collect: () => Promise.resolve(cluster.registries().map((r) => r.dump())),
      abort: (error) => cluster.abortProcedure(error, { source: 'deadlock-detector' }),
    });
    detector.start();
    const result = await sim.rolllog();
    detector.stop();
    const d = detector.result;
    return {
      ...result,
      detected: d !== undefined,
      ...(d ? { detectedAfterMs: Math.round(d.detectedAfterMs * 1000) / 1000, cycle: d.cycle } : {}),
    };
  } finally {
    sim.close();
  }
}

/**
 * Runs `runs` rolllogs on a small simulated cluster (3 workers by default) while the predictor
 * watches, and returns its predictions: the staging cluster that catches the production incident.
 */
export async function predictInSimulation(
  opts: Omit<SimRunOptions, 'workers'> & { workers?: number },
): Promise<Prediction[]> {
  const sim = await SimCluster.start({ ...opts, workers: opts.workers ?? 3 });
  try {
    const watch = watchCluster(sim.cluster);
    const runs = opts.runs ?? 1;
    for (let i = 0; i < runs; i++) {
      await sim.rolllog();
      watch.predictor.countRun();
    }
    watch.detach();
    return watch.predictor.predictions();
  } finally {
    sim.close();
  }
}
