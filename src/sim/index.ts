// Running the real cluster on the simulated substrate: SimCluster (one world, one cluster),
// runSimulation (build + K rolllogs), sweep (sizes x modes x handler counts), fault specs.
export { SimCluster, runSimulation, SIM_DEFAULTS, MAX_RUNS_PER_CLUSTER } from './run.js';
export type { SimOutcome, SimRunOptions, SimRunResult } from './run.js';
export { sweep, cliffs, checkFaultNodes, MAX_SWEEP_POINTS, type SweepOptions, type SweepPoint } from './sweep.js';
export {
  parseFaultSpec,
  formatFaultPlan,
  applyFaultPlan,
  emptyPlan,
  isEmptyPlan,
  nodesNamed,
  FaultSpecError,
  MAX_FAULT_ITEMS,
  type FaultPlan,
  type FaultHooks,
  type NodeFault,
  type PartitionFault,
  type RateWindow,
} from './faults.js';
export { parseNodeList, NodeListError, MAX_SWEEP_SIZES, MAX_SIM_WORKERS } from './nodes.js';
export { createHop, macrotaskHop, tickHop, realElapsedMs, MACROTASK_EVERY_EVENTS } from './drive.js';
