// Frame names shown in dumps, after HBase's org.apache.hadoop.hbase.procedure classes. The online
// detector and the predictor report these as evidence, so they name real code paths.
export const FRAMES = {
  procedureCall: 'rollcall.procedure.Procedure.call',
  sendGlobalBarrierStart: 'rollcall.procedure.Procedure.sendGlobalBarrierStart',
  sendGlobalBarrierReached: 'rollcall.procedure.Procedure.sendGlobalBarrierReached',
  sendGlobalBarrierComplete: 'rollcall.procedure.Procedure.sendGlobalBarrierComplete',
  sendAbortToMembers: 'rollcall.procedure.Procedure.sendAbortToMembers',
  waitForLatch: 'rollcall.procedure.Procedure.waitForLatch',
  waitForCompleted: 'rollcall.procedure.Procedure.waitForCompleted',
  afterBarrier: 'rollcall.procedure.Procedure.afterBarrier',
  subprocedureCall: 'rollcall.procedure.Subprocedure.call',
  acquireBarrier: 'rollcall.procedure.Subprocedure.acquireBarrier',
  insideBarrier: 'rollcall.procedure.Subprocedure.insideBarrier',
  waitForReachedGlobalBarrier: 'rollcall.procedure.Subprocedure.waitForReachedGlobalBarrier',
  sendMemberAcquired: 'rollcall.procedure.ProcedureMemberRpcs.sendMemberAcquired',
  sendMemberCompleted: 'rollcall.procedure.ProcedureMemberRpcs.sendMemberCompleted',
  sendMemberAborted: 'rollcall.procedure.ProcedureMemberRpcs.sendMemberAborted',
  subprocedureCleanup: 'rollcall.procedure.Subprocedure.cleanup',
  timeoutInjector: 'rollcall.errorhandling.TimeoutExceptionInjector$1.run',
} as const;
