// Diagnosis of thread dumps: identity across samples, classification, pools, rule packs, lock and
// RPC wait edges, and the verdict by liveness (the computation itself lives in src/waitgraph).
export { Analyzer, analyze, analyzeDumps, MAX_ROUNDS, MAX_NODES, MAX_TRACKS, type AnalyzeOptions } from './analyze.js';
export * from './result.js';
export {
  parseRules,
  RulesError,
  BUILTIN_RULES,
  HBASE_RULES,
  HADOOP_RULES,
  GRPC_RULES,
  MAX_RULES_FILE_BYTES,
  type RulePack,
  type PoolRule,
  type IdleRule,
  type WaitRule,
  type RoleRule,
  type TargetRule,
  type WaitKind,
} from './rules.js';
export { PoolNamer, type PoolMembership, type PoolFamily } from './pools.js';
export { StackClassifier, stateCode, qualified, type StackFacts, type StackNature, type StateCode } from './stacks.js';
export { identityKey, identityKeys } from './identity.js';
export { lockEdges, mapJvmDeadlocks, type LockEdge, type MappedJvmDeadlock } from './locks.js';
export {
  RollcallLinker,
  type RcThreadView,
  type RcPoolView,
  type RcTarget,
  type RcWait,
  type RcQueuedCall,
} from './rollcall.js';
export { describeCycle, cycleKind, vertexName } from './cycles.js';
export { OnlineDeadlockDetector, type OnlineResult } from './online.js';
