// What every cluster node starts with: its logical-thread registry, an RPC server with HBase's two
// handler pools (default for client and data calls, priority for reports), and its RPC client.
import { RpcClient, RpcServer } from '../rpc/index.js';
import type { Address, Substrate } from '../substrate/types.js';
import { ThreadRegistry } from '../threads/index.js';

export interface NodeRpcSpec {
  name: string;
  role: 'master' | 'worker';
  listen: Address;
  handlers: number;
  queues: number;
  priorityHandlers: number;
  priorityQueues: number;
  /** Per-queue limit is this times the pool's handler count (HBase: 10). */
  queueLengthPerHandler: number;
  rpcTimeoutMs: number;
  log: (message: string) => void;
}

export function startNodeRpc(
  spec: NodeRpcSpec,
  substrate: Substrate,
): { threads: ThreadRegistry; server: RpcServer; client: RpcClient } {
  const threads = new ThreadRegistry(spec.name, spec.role, substrate.pid, substrate.clock);
  const server = new RpcServer({
    node: spec.name,
    substrate,
    threads,
    listen: spec.listen,
    pools: [
      {
        name: 'default',
        handlers: spec.handlers,
        queues: spec.queues,
        maxQueueLength: spec.queueLengthPerHandler * spec.handlers,
      },
      {
        name: 'priority',
        handlers: spec.priorityHandlers,
        queues: spec.priorityQueues,
        maxQueueLength: spec.queueLengthPerHandler * spec.priorityHandlers,
      },
    ],
    log: spec.log,
  });
  const client = new RpcClient({
    node: spec.name,
    substrate,
    timeoutMs: spec.rpcTimeoutMs,
  });
  return { threads, server, client };
}
