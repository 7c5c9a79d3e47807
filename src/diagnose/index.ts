// Diagnosis of thread dumps: identity across samples, classification (stuck, waiting, idle,
// progressing), pools, calls linked by service, rule packs, lock and RPC wait edges, and the verdict
// by liveness (the computation itself lives in src/waitgraph).
export {
  Analyzer,
  analyze,
  analyzeDumps,
  ExplainError,
  MAX_ROUNDS,
  MAX_NODES,
  MAX_TRACKS,
  type AnalyzeOptions,
} from './analyze.js';
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
  type ServiceRule,
  type TargetRule,
  type WaitKind,
} from './rules.js';
export { PoolNamer, type PoolMembership, type PoolFamily } from './pools.js';
export { StackClassifier, stateCode, qualified, type StackFacts, type StackNature, type StateCode } from './stacks.js';
export { siteFacts, siteName, type RpcSite, type RpcFramework, type SiteFacts } from './services.js';
export { identityKey, identityKeys } from './identity.js';
export { lockEdges, mapJvmDeadlocks, type LockEdge, type MappedJvmDeadlock } from './locks.js';
