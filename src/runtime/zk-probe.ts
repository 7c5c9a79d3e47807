// Before a node, a cluster or a client joins ZooKeeper: does any server of the ensemble accept a
// connection at all? The ZooKeeper client retries a refused connection until its connect timeout
// (15 s), so without this a wrong port costs 15 s before the one-line error. Only a definite
// refusal fails fast; a server that does not answer is left to the session's own timeout.
import net from 'node:net';
import { parseZkUrl, ZkStartupError } from '../coordination/zookeeper/connection.js';
import { formatAddress, type Address } from '../substrate/types.js';

/** How long one probe waits for a server to accept before leaving the verdict to the session. */
export const ZK_PROBE_TIMEOUT_MS = 2_000;

/** Throws ZkStartupError when every server of `url` refuses connections (or cannot be resolved). */
export async function probeZooKeeper(url: string, timeoutMs = ZK_PROBE_TIMEOUT_MS): Promise<void> {
  const spec = parseZkUrl(url);
  const refusals = await Promise.all(spec.servers.map((addr) => refusal(addr, timeoutMs)));
  if (refusals.some((r) => r === undefined)) return;
  const why = spec.servers.map((addr, i) => `${formatAddress(addr)}: ${refusals[i]}`).join('; ');
  throw new ZkStartupError(
    `cannot reach ZooKeeper at ${spec.url} (${why}; is the server running? try: npm run zk:start)`,
  );
}

/** Why `addr` refused a connection, or undefined when it accepted or did not answer in time. */
function refusal(addr: Address, timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: addr.host, port: addr.port });
    const done = (why: string | undefined): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(why);
    };
    const timer = setTimeout(() => done(undefined), timeoutMs);
    socket.once('connect', () => done(undefined));
    socket.once('error', (err: NodeJS.ErrnoException) =>
      done(err.code === 'ECONNREFUSED' ? 'connection refused' : err.message),
    );
  });
}
