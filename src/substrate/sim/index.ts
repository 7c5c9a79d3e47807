// The deterministic simulated substrate: see world.ts.
export {
  SimWorld,
  SimSubstrate,
  MAX_SIM_NODES,
  DEFAULT_SIM_EPOCH_MS,
  type SimWorldOptions,
  type WorldStats,
} from './world.js';
export {
  Scheduler,
  SimLimitError,
  SimCallbackError,
  DEFAULT_LIMITS,
  type SchedulerLimits,
  type RunStatus,
} from './scheduler.js';
export {
  DEFAULT_LINK,
  NO_MESSAGE_FAULTS,
  DEFAULT_CONNECT_TIMEOUT_MS,
  type LinkModel,
  type MessageFaults,
  type NetworkStats,
} from './network.js';
export { DEFAULT_DISK, SimFsError, type DiskModel } from './disk.js';
export { SimRandom, hashString32 } from './random.js';
export { TraceHash } from './hash.js';
