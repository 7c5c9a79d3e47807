// The ZooKeeper coordination engine: HBase's barrier transport over a ZooKeeper ensemble, with
// member liveness and coordinator failover. Nodes use it when given
// --coordination zookeeper://HOST:PORT[,HOST:PORT]/CHROOT.
//
// This is the entry point for real nodes: it wires the protocol modules to the real client
// (node-zookeeper-client, session.ts). Protocol code never imports it; the simulator wires the same
// modules to its simulated ZooKeeper (src/sim/zookeeper.ts).
export { parseZkUrl, isZkUrl, ZkUrlError, ZkStartupError, type ZkConnectionSpec } from './connection.js';
export {
  ZkError,
  isZkError,
  ZK_SESSION_DEFAULTS,
  type ZkSession,
  type ZkSessionOptions,
  type ZkSessionState,
  type ZkStateChange,
  type ZkStat,
  type ZkConnector,
} from '../../substrate/zookeeper.js';
export { NodeZkSession, realZkConnector } from './session.js';
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
export {
  abortLeftoverRuns,
  ZkMasterTransport,
  ZkWorkerTransport,
  type ZkTransportOptions,
  type ZkCoordinatorTransportOptions,
  type ZkNodeContext,
} from './transports.js';

import type { ZkSession, ZkSessionOptions } from '../../substrate/zookeeper.js';
import { parseZkUrl, type ZkConnectionSpec } from './connection.js';
import { NodeZkSession, realZkConnector } from './session.js';
import { zkClusterSettings as zkClusterSettingsOver, type ZkCoordinatorTransportOptions } from './transports.js';

/** Parses a --coordination URL (throws ZkUrlError) and opens a real session for one node. */
export async function openZkSession(
  url: string | ZkConnectionSpec,
  options: ZkSessionOptions = {},
): Promise<ZkSession> {
  const spec = typeof url === 'string' ? parseZkUrl(url) : url;
  return NodeZkSession.open(spec, options);
}

/** The master and worker settings that put a whole real cluster's barrier on ZooKeeper. */
export function zkClusterSettings(
  url: string | ZkConnectionSpec,
  options: Omit<ZkCoordinatorTransportOptions, 'url' | 'connect'>,
): ReturnType<typeof zkClusterSettingsOver> {
  return zkClusterSettingsOver(url, { ...options, connect: realZkConnector });
}
