// The --coordination flag shared by `rollcall rolllog`, `rollcall cluster start` and `rollcall node`:
// validated when parsed, so a malformed URL exits 2 with the reason before anything starts.
import { InvalidArgumentError } from 'commander';
import { parseZkUrl } from '../../coordination/zookeeper/connection.js';

export const COORDINATION_HELP =
  'run the barrier through ZooKeeper: zookeeper://HOST:PORT[,HOST:PORT]/CHROOT[?sessionTimeoutMs=N]';

export function coordinationOption(v: string): string {
  try {
    return parseZkUrl(v).url;
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}
