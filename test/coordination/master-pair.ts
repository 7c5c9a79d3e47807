// An active master and a standby over one ZooKeeper chroot, on real TCP: the start of every
// failover test. The standby's start() waits in the election until the active one goes away.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Master, Worker } from '../../src/cluster/index.js';
import { zkClusterSettings, type ZkMasterTransport } from '../../src/coordination/zookeeper/index.js';
import { realSubstrate } from '../../src/substrate/real/index.js';
import type { Substrate } from '../../src/substrate/types.js';
import { gate } from '../support/gate.js';

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

/** Workers of the pair's cluster, registered with the active master; the cleanups stop them. */
export async function startPairWorkers(
  pair: MasterPair,
  names: string[],
  cleanups: (() => Promise<void>)[],
): Promise<Worker[]> {
  const listen = { host: '127.0.0.1', port: 0 };
  const workers = names.map(
    (name) =>
      new Worker(
        { name, listen, dataDir: path.join(pair.dir, name), master: pair.a.address, ...pair.settings(false).worker },
        pair.substrate,
      ),
  );
  await Promise.all(workers.map((w) => w.start()));
  cleanups.push(async () => void (await Promise.all(workers.map((w) => w.stop()))));
  return workers;
}

/** Makes a worker's WAL roll wait until release(): keeps a rolllog inside its barrier. */
export function holdRoll(worker: Worker): { rolling: () => boolean; release: () => void } {
  const held = gate();
  let rolling = false;
  const roll = worker.wal.roll.bind(worker.wal);
  worker.wal.roll = async (thread) => {
    rolling = true;
    await held.promise;
    return roll(thread);
  };
  return { rolling: () => rolling, release: () => held.open() };
}
