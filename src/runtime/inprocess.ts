// A whole cluster in this process over real TCP on loopback: every node has its own RPC listener,
// its own admin HTTP listener and its own data directory in a temporary folder that stop() removes.
import path from 'node:path';
import { startAdminServer, type AdminServer } from '../admin/http.js';
import {
  REAL_WAL_PREALLOCATE,
  startCluster,
  type Cluster,
  type ClusterSpec,
  type Master,
  type Worker,
} from '../cluster/index.js';
import { realSubstrate } from '../substrate/real/index.js';
import { formatAddress, type Substrate } from '../substrate/types.js';
import type { ThreadRegistry } from '../threads/index.js';
import { NO_SECURITY, adminAuthOf, checkNodeListenPolicy, type NodeSecurity } from './secrets.js';
import { makeTempDir, removeDir } from './tempdir.js';

export interface NodeEndpoint {
  name: string;
  role: 'master' | 'worker';
  /** HOST:PORT of the node's RPC listener. */
  rpc: string;
  /** http://HOST:PORT of the node's admin listener (/stacks, /metrics). */
  admin?: string;
  pid?: number;
}

export interface LocalClusterOptions {
  workers: number;
  master?: ClusterSpec['master'];
  worker?: ClusterSpec['worker'];
  host?: string;
  /** Start an admin listener per node (default true). */
  admin?: boolean;
  /** Extra admin endpoints per node, e.g. /waits for the online detector. */
  adminRoutes?: (node: string, threads: ThreadRegistry) => Record<string, () => unknown>;
  /** Data directory to use (kept); default a temporary one removed by stop(). */
  dataDir?: string;
  /** TLS for every link and authentication for the admin listeners (runtime/secrets.ts loadSecurity). */
  security?: NodeSecurity;
  log?: (message: string) => void;
}

export interface LocalCluster {
  cluster: Cluster;
  dataDir: string;
  endpoints(): NodeEndpoint[];
  stop(): Promise<void>;
}

export async function startLocalCluster(options: LocalClusterOptions): Promise<LocalCluster> {
  const host = options.host ?? '127.0.0.1';
  const security = options.security ?? NO_SECURITY;
  checkNodeListenPolicy(security, host, options.admin === false ? undefined : host);
  const ownDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? (await makeTempDir('rollcall-cluster'));
  const admins = new Map<string, AdminServer>();
  // One substrate for all nodes: they share the process, its clock and its disk anyway.
  const substrate: Substrate = realSubstrate({
    ...(options.log ? { log: options.log } : {}),
    ...(security.link ? { security: security.link } : {}),
  });
  const startAdmin = async (node: Master | Worker): Promise<void> => {
    if (options.admin === false) return;
    await admins.get(node.name)?.close();
    const server = await startAdminServer(
      host,
      0,
      {
        threads: node.threads,
        ...(options.adminRoutes ? { extra: options.adminRoutes(node.name, node.threads) } : {}),
      },
      adminAuthOf(security),
    );
    admins.set(node.name, server);
    node.advertiseAdmin(server.url);
  };
  const closeAll = async (): Promise<void> => {
    await Promise.allSettled([...admins.values()].map((a) => a.close()));
    admins.clear();
    if (ownDir) await removeDir(dataDir);
  };
  let cluster: Cluster;
  try {
    cluster = await startCluster({
      workers: options.workers,
      substrateFor: () => substrate,
      dataDirFor: (n) => path.join(dataDir, n),
      listenFor: () => ({ host, port: 0 }),
      prepareNode: startAdmin,
      ...(options.master ? { master: options.master } : {}),
      worker: { walPreallocate: REAL_WAL_PREALLOCATE, ...options.worker },
      ...(options.log ? { log: options.log } : {}),
    });
  } catch (err) {
    await closeAll();
    throw err;
  }
  let stopped: Promise<void> | undefined;
  return {
    cluster,
    dataDir,
    endpoints: () => [
      {
        name: cluster.master.name,
        role: 'master',
        rpc: formatAddress(cluster.master.address),
        ...adminOf(cluster.master.name),
      },
      ...cluster.workers.map((w): NodeEndpoint => ({
        name: w.name,
        role: 'worker',
        rpc: formatAddress(w.address),
        ...adminOf(w.name),
      })),
    ],
    stop: () => {
      stopped ??= (async () => {
        try {
          await cluster.stop();
        } finally {
          await closeAll();
        }
      })();
      return stopped;
    },
  };

  function adminOf(name: string): { admin?: string } {
    const a = admins.get(name);
    return a ? { admin: a.url } : {};
  }
}
