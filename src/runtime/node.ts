// One node in this process (`rollcall node`): a master or a worker over real TCP (TLS with a
// secret or certificates), with its admin listener.
import { hostname } from 'node:os';
import { startAdminServer, type AdminServer } from '../admin/http.js';
import { Master, REAL_WAL_PREALLOCATE, Worker, type MasterConfig, type WorkerConfig } from '../cluster/index.js';
import { realSubstrate } from '../substrate/real/index.js';
import { formatAddress, type Address } from '../substrate/types.js';
import type { ThreadRegistry } from '../threads/index.js';
import { prepareDir } from './datadir.js';
import { listenFirst } from './prebound.js';
import {
  adminAuthOf,
  checkNodeListenPolicy,
  configErrorOf,
  describeSecurity,
  loadSecurity,
  NodeConfigError,
  type SecurityFiles,
} from './secrets.js';

export interface NodeOptions {
  role: 'master' | 'worker';
  /** Default: 'master', or worker@HOST:PORT for a worker (its bound address; the host name for a wildcard). */
  name?: string;
  listen: Address;
  admin: Address;
  /** The master's RPC address (workers only). */
  master?: Address;
  dataDir: string;
  /** The cluster secret and/or TLS certificates (none: plain TCP, loopback only). */
  security?: SecurityFiles;
  masterSettings?: Partial<Omit<MasterConfig, 'name' | 'listen' | 'dataDir'>>;
  workerSettings?: Partial<Omit<WorkerConfig, 'name' | 'listen' | 'dataDir' | 'master'>>;
  adminRoutes?: (node: string, threads: ThreadRegistry) => Record<string, () => unknown>;
  log: (message: string) => void;
}

export interface RunningNode {
  name: string;
  role: 'master' | 'worker';
  rpc: string;
  admin: string;
  pid: number;
  /** How its links and admin listener are protected, in one line. */
  security: string;
  node: Master | Worker;
  stop(): Promise<void>;
}

export async function startNode(options: NodeOptions): Promise<RunningNode> {
  const security = loadSecurity(options.security ?? {});
  checkNodeListenPolicy(security, options.listen.host, options.admin.host);
  if (options.role === 'worker' && !options.master) throw new NodeConfigError('a worker needs --master HOST:PORT');
  await prepareDir(options.dataDir, '--data');
  const real = realSubstrate({ log: options.log, ...(security.link ? { security: security.link } : {}) });
  const prebound = await listenFirst(real, options.listen);
  const { substrate, address: listen } = prebound;
  const name = options.name ?? (options.role === 'master' ? 'master' : `worker@${nameHost(listen)}`);
  const build = (): Master | Worker =>
    options.role === 'master'
      ? new Master(
          {
            ...options.masterSettings,
            name,
            listen,
            dataDir: options.dataDir,
            log: options.log,
          },
          substrate,
        )
      : new Worker(
          {
            walPreallocate: REAL_WAL_PREALLOCATE,
            ...options.workerSettings,
            name,
            listen,
            dataDir: options.dataDir,
            master: options.master!,
            log: options.log,
          },
          substrate,
        );
  let node: Master | Worker;
  try {
    node = build();
  } catch (err) {
    await prebound.release();
    throw err;
  }
  let admin: AdminServer | undefined;
  try {
    admin = await startAdminServer(
      options.admin.host,
      options.admin.port,
      {
        threads: node.threads,
        ...(options.adminRoutes ? { extra: options.adminRoutes(name, node.threads) } : {}),
      },
      adminAuthOf(security),
    );
    node.advertiseAdmin(admin.url);
    await node.start();
  } catch (err) {
    await node.stop().catch(() => {});
    await prebound.release();
    await admin?.close();
    throw configErrorOf(err) ?? err;
  }
  const adminServer = admin;
  let stopped: Promise<void> | undefined;
  return {
    name,
    role: options.role,
    rpc: formatAddress(node.address),
    admin: adminServer.url,
    pid: substrate.pid,
    security: describeSecurity(security),
    node,
    stop: () => {
      stopped ??= (async () => {
        try {
          await node.stop();
        } finally {
          await adminServer.close();
        }
      })();
      return stopped;
    },
  };
}

/** A wildcard listen address names no host: use the machine's name, so names stay unique across hosts. */
function nameHost(a: Address): string {
  const wildcard = a.host === '0.0.0.0' || a.host === '::' || a.host === '[::]' || a.host === '';
  return formatAddress(wildcard ? { host: hostname(), port: a.port } : a);
}
