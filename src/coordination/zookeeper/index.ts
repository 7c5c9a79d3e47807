// The ZooKeeper coordination engine: HBase's barrier transport over a real ZooKeeper ensemble,
// with member liveness and coordinator failover. Nodes use it when given
// --coordination zookeeper://HOST:PORT[,HOST:PORT]/CHROOT.
export { parseZkUrl, isZkUrl, ZkUrlError, ZkStartupError, type ZkConnectionSpec } from './connection.js';
export {
  ZkSession,
  ZkError,
  isZkError,
  ZK_SESSION_DEFAULTS,
  type ZkSessionOptions,
  type ZkSessionState,
  type ZkStateChange,
  type ZkStat,
} from './session.js';
export { ZkCoordinatorRpcs, type ZkCoordinatorRpcsOptions } from './coordinator-rpcs.js';
export { ZkMemberRpcs, type ZkMemberRpcsOptions } from './member-rpcs.js';
export { MemberLiveness } from './liveness.js';
export { LeaderElection } from './election.js';
export { ActiveMasterTracker, masterAddress, type ActiveMasterListener } from './active-master.js';
export { ZkMasterRole, type ZkMasterRoleOptions } from './master.js';
export {
  recoverProcedures,
  resumeEverything,
  type RecoveredRun,
  type ResumePlan,
  type ResumePolicy,
} from './recovery.js';
export type { ProcedureState, MasterInfo, MemberRegistration } from './codec.js';
export * as zkLayout from './layout.js';

import { parseZkUrl, type ZkConnectionSpec } from './connection.js';
import { ZkSession, type ZkSessionOptions } from './session.js';

/** Parses a --coordination URL (throws ZkUrlError) and opens a session for one node. */
export async function openZkSession(
  url: string | ZkConnectionSpec,
  options: ZkSessionOptions = {},
): Promise<ZkSession> {
  const spec = typeof url === 'string' ? parseZkUrl(url) : url;
  return ZkSession.open(spec, options);
}
export {
  zkCoordinatorTransport,
  zkMemberTransport,
  zkClusterSettings,
  abortLeftoverRuns,
  ZkMasterTransport,
  ZkWorkerTransport,
  type ZkTransportOptions,
  type ZkCoordinatorTransportOptions,
  type ZkNodeContext,
} from './transports.js';
