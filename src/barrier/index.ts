export * from './errors.js';
export * from './transport.js';
export { ThreadPoolExecutor, MAX_EXECUTOR_THREADS, type ExecutorOptions, type Task } from './executor.js';
export { BarrierLatch, ForeignExceptionDispatcher, MemberSet } from './latch.js';
export { FRAMES as BARRIER_FRAMES } from './frames.js';
export {
  Procedure,
  listMembers,
  type AfterBarrier,
  type MemberTiming,
  type PhaseTimes,
  type ProcedureEnv,
  type ProcedureOutcome,
  type ProcedureState,
} from './procedure.js';
export { ProcedureCoordinator, COORDINATOR_DEFAULTS, type CoordinatorOptions, type StartSpec } from './coordinator.js';
export { Subprocedure, type SubprocedureContext, type SubprocedureFactory } from './subprocedure.js';
export { ProcedureMember, MEMBER_DEFAULTS, type MemberOptions } from './member.js';
export {
  RpcProcedureCoordinatorRpcs,
  RpcProcedureMemberRpcs,
  BARRIER_METHODS,
  DISPATCHER_DEFAULTS,
  type RpcCoordinatorRpcsOptions,
  type RpcMemberRpcsOptions,
} from './rpc-transport.js';
