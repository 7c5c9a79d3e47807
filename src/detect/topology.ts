// What the predictor needs to know about a running cluster, read off its nodes: roles, the RPC
// servers' routing tables and pool sizes, and where barrier members run. Works for any Cluster,
// over TCP or in the simulator.
import type { Cluster } from '../cluster/index.js';
import type { PredictorTopology } from './predictor.js';

/** The pool in which a worker runs its subprocedures (barrier members' inside-barrier work). */
export const MEMBER_POOL = 'subprocedure';

export function clusterTopology(cluster: Cluster): PredictorTopology {
  const master = cluster.master;
  const worker = cluster.workers[0];
  const routes = new Map<string, string>();
  const sizes = new Map<string, number>();
  for (const [role, server] of [
    ['master', master.server],
    ...(worker ? [['worker', worker.server] as const] : []),
  ] as const) {
    for (const r of server.routes()) routes.set(`${role}\u0000${r.method}`, r.pool);
    for (const p of server.poolConfigs()) sizes.set(`${role}\u0000${p.name}`, p.handlers);
  }
  if (worker) sizes.set(`worker\u0000${MEMBER_POOL}`, worker.config.memberThreads);
  const workerNames = new Set(cluster.workers.map((w) => w.name));
  return {
    roleOf: (node) => (node === master.name ? 'master' : workerNames.has(node) ? 'worker' : undefined),
    poolFor: (role, method) => routes.get(`${role}\u0000${method}`),
    poolSize: (role, pool) => sizes.get(`${role}\u0000${pool}`),
    barrierMembers: () => ({ role: 'worker', pool: MEMBER_POOL }),
    scalingRole: 'worker',
    scalingNodes: () => cluster.workers.length,
  };
}
