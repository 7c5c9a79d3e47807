// One node in this process (`rollcall node`): a master or a worker over real TCP, with its admin
// listener, optionally authenticating peers with the cluster secret.
import { startAdminServer, type AdminServer } from '../admin/http.js';
import { Master, REAL_WAL_PREALLOCATE, Worker, type MasterConfig, type WorkerConfig } from '../cluster/index.js';
import { realSubstrate } from '../substrate/real/index.js';
import { formatAddress, type Address } from '../substrate/types.js';
import type { ThreadRegistry } from '../threads/index.js';
import { prepareDir } from './datadir.js';
import { checkListenPolicy, loadAuthenticator, NodeConfigError } from './secrets.js';

export interface NodeOptions {
  role: 'master' | 'worker';
  /** Default: 'master', or worker@HOST:PORT for a worker. */
  name?: string;
  listen: Address;
  admin: Address;
  /** The master's RPC address (workers only). */
  master?: Address;
  dataDir: string;
  secretFile?: string;
  masterSettings?: Partial<Omit<MasterConfig, 'name' | 'listen' | 'dataDir' | 'auth'>>;
  workerSettings?: Partial<Omit<WorkerConfig, 'name' | 'listen' | 'dataDir' | 'master' | 'auth'>>;
  adminRoutes?: (node: string, threads: ThreadRegistry) => Record<string, () => unknown>;
  log: (message: string) => void;
}

export interface RunningNode {
  name: string;
  role: 'master' | 'worker';
  rpc: string;
  admin: string;
  pid: number;
  node: Master | Worker;
  stop(): Promise<void>;
}

export async function startNode(options: NodeOptions): Promise<RunningNode> {
  const hasSecret = options.secretFile !== undefined;
  checkListenPolicy(options.listen.host, hasSecret, 'RPC');
  const auth = options.secretFile ? loadAuthenticator(options.secretFile) : undefined;
  if (options.role === 'worker' && !options.master) throw new NodeConfigError('a worker needs --master HOST:PORT');
  await prepareDir(options.dataDir, '--data');
  const substrate = realSubstrate({ log: options.log });
  const name =
    options.name ?? (options.role === 'master' ? 'master' : `worker@${options.listen.host}:${options.listen.port}`);
  const node: Master | Worker =
    options.role === 'master'
      ? new Master(
          {
            ...options.masterSettings,
            name,
            listen: options.listen,
            dataDir: options.dataDir,
            log: options.log,
            ...(auth ? { auth } : {}),
          },
          substrate,
        )
      : new Worker(
          {
            walPreallocate: REAL_WAL_PREALLOCATE,
            ...options.workerSettings,
            name,
            listen: options.listen,
            dataDir: options.dataDir,
            master: options.master!,
            log: options.log,
            ...(auth ? { auth } : {}),
          },
          substrate,
        );
  let admin: AdminServer | undefined;
  try {
    admin = await startAdminServer(options.admin.host, options.admin.port, {
      threads: node.threads,
      ...(options.adminRoutes ? { extra: options.adminRoutes(name, node.threads) } : {}),
    });
    node.advertiseAdmin(admin.url);
    await node.start();
  } catch (err) {
    await node.stop().catch(() => {});
    await admin?.close();
    throw err;
  }
  const adminServer = admin;
  let stopped: Promise<void> | undefined;
  return {
    name,
    role: options.role,
    rpc: formatAddress(node.address),
    admin: adminServer.url,
    pid: substrate.pid,
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
