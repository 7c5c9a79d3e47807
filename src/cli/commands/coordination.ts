// The --coordination flag shared by `rollcall rolllog`, `rollcall cluster start` and `rollcall node`:
// validated when parsed, so a malformed URL exits 2 with the reason before anything starts.
import { InvalidArgumentError } from 'commander';
import { parseZkUrl, ZkStartupError } from '../../coordination/zookeeper/connection.js';
import { probeZooKeeper } from '../../runtime/zk-probe.js';
import { UsageError } from '../errors.js';

export const COORDINATION_HELP =
  'run the barrier through ZooKeeper: zookeeper://HOST:PORT[,HOST:PORT]/CHROOT[?sessionTimeoutMs=N]';

export function coordinationOption(v: string): string {
  try {
    return parseZkUrl(v).url;
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

/**
 * Fails at once (exit 2, one line) when no ZooKeeper server of `url` accepts connections, before a
 * command starts anything that would have to be torn down again.
 */
export async function requireReachableZooKeeper(url: string | undefined): Promise<void> {
  if (url === undefined) return;
  try {
    await probeZooKeeper(url);
  } catch (err) {
    if (err instanceof ZkStartupError) throw new UsageError(err.message);
    throw err;
  }
}
