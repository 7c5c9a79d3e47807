// A small RPC server for network tests: T.echo and T.sleep on one pool, stopped by the caller's cleanup.
import { RpcServer, type ServerConnectionLimits } from '../../src/rpc/index.js';
import type { Address, Substrate } from '../../src/substrate/types.js';
import { ThreadRegistry } from '../../src/threads/index.js';

export interface TestServer {
  server: RpcServer;
  addr: Address;
  /** Calls of T.echo served so far. */
  served(): number;
}

export async function startTestServer(
  substrate: Substrate,
  options: { limits?: Partial<ServerConnectionLimits>; listen?: Address; log?: (m: string) => void } = {},
): Promise<TestServer> {
  const threads = new ThreadRegistry('srv', 'master', substrate.pid, substrate.clock);
  const server = new RpcServer({
    node: 'srv',
    substrate,
    threads,
    listen: options.listen ?? { host: '127.0.0.1', port: 0 },
    pools: [{ name: 'default', handlers: 4, queues: 1, maxQueueLength: 100_000 }],
    ...(options.limits ? { limits: options.limits } : {}),
    ...(options.log ? { log: options.log } : {}),
  });
  let served = 0;
  server.register('T.echo', 'default', async (a) => {
    served++;
    return a;
  });
  server.register('T.sleep', 'default', async (a) => {
    await new Promise<void>((r) => substrate.clock.setTimer(a as number, r));
    return a;
  });
  const addr = await server.start();
  return { server, addr, served: () => served };
}
