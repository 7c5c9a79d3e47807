export { startLocalCluster, type LocalCluster, type LocalClusterOptions, type NodeEndpoint } from './inprocess.js';
export {
  startProcessCluster,
  defaultCliPath,
  type NodeExit,
  type ProcessCluster,
  type ProcessClusterOptions,
} from './processes.js';
export { startNode, type NodeOptions, type RunningNode } from './node.js';
export {
  runRolllog,
  RolllogInterrupted,
  RolllogStartError,
  summarize,
  percentile,
  MAX_RUNS,
  type RolllogOptions,
  type RolllogReport,
  type RolllogContext,
  type RolllogHooks,
  type RolllogSummary,
  type RunOutcome,
  type RunReport,
} from './rolllog.js';
export {
  NodeConfigError,
  NO_SECURITY,
  adminAuthOf,
  adminToken,
  checkListenPolicy,
  checkNodeListenPolicy,
  describeSecurity,
  isLoopbackHost,
  loadSecurity,
  readSecretFile,
  securityOf,
  writeSecretFile,
  type NodeSecurity,
  type SecurityFiles,
} from './secrets.js';
export { stderrLog } from './log.js';
export { ensureFdsFor, ensureProcessesFor, fdsNeeded, readFdLimits } from './capacity.js';
export { verifyDataDir, VerifyInputError, type DataDirReport, type VerifySummary } from './verify.js';
export { prepareDir } from './datadir.js';
