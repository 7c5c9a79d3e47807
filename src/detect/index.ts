export {
  LatentDeadlockPredictor,
  MAX_CLASS_EDGES,
  type Prediction,
  type PredictionEvidence,
  type PredictorTopology,
} from './predictor.js';
export {
  DeadlockDetector,
  DEFAULT_DETECT_INTERVAL_MS,
  describe as describeDeadlock,
  type DeadlockOut,
  type Detection,
  type DetectorOptions,
  type DetectorRound,
} from './detector.js';
export { clusterTopology, MEMBER_POOL } from './topology.js';
export { OnlineDeadlockDetector, type OnlineResult } from './online.js';

import type { Cluster } from '../cluster/index.js';
import { LatentDeadlockPredictor } from './predictor.js';
import { clusterTopology } from './topology.js';

/** A predictor watching every node of `cluster` from now on; `detach()` stops watching. */
export function watchCluster(cluster: Cluster): { predictor: LatentDeadlockPredictor; detach: () => void } {
  const predictor = new LatentDeadlockPredictor(clusterTopology(cluster));
  const detachers = cluster.registries().map((r) => r.addWaitObserver(predictor.observer(r.node)));
  return { predictor, detach: () => detachers.forEach((d) => d()) };
}
