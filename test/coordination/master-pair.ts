// An active master and a standby over one ZooKeeper chroot, on real TCP: the start of every
// failover test. The standby's start() waits in the election until the active one goes away.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Master } from '../../src/cluster/index.js';
import { zkClusterSettings, type ZkMasterTransport } from '../../src/coordination/zookeeper/index.js';
import { realSubstrate } from '../../src/substrate/real/index.js';
import type { Substrate } from '../../src/substrate/types.js';

export interface MasterPair {
  a: Master;
  b: Master;
  /** Resolves when the standby has won the election and started. */
  bStarted: Promise<unknown>;
  /** The active master's transport (to crash its session). */
  transportA(): ZkMasterTransport | undefined;
  substrate: Substrate;
  dir: string;
  /** Node settings for workers (or more masters) of the same cluster. */
  settings: (standby: boolean) => ReturnType<typeof zkClusterSettings>;
}

export async function startMasterPair(
  url: string,
  procedureTimeoutMs: number,
  cleanups: (() => Promise<void>)[],
): Promise<MasterPair> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rollcall-zk-failover-'));
  cleanups.push(async () => fs.rmSync(dir, { recursive: true, force: true }));
  const substrate = realSubstrate();
  const settings = (standby: boolean) => zkClusterSettings(url, { procedureTimeoutMs, standby });
  const listen = { host: '127.0.0.1', port: 0 };
  let transportA: ZkMasterTransport | undefined;
  const a = new Master(
    {
      name: 'master-a',
      listen,
      dataDir: path.join(dir, 'a'),
      coordinatorTransport: (ctx) => (transportA = settings(false).master.coordinatorTransport(ctx)),
    },
    substrate,
  );
  await a.start();
  cleanups.push(() => a.stop());
  const b = new Master({ name: 'master-b', listen, dataDir: path.join(dir, 'b'), ...settings(true).master }, substrate);
  const bStarted = b.start();
  cleanups.push(async () => {
    await bStarted.catch(() => {});
    await b.stop();
  });
  return { a, b, bStarted, transportA: () => transportA, substrate, dir, settings };
}
