// The ZooKeeper ensemble harness: three real servers form a quorum and serve a light load.
import { afterAll, describe, expect, it } from 'vitest';
import { untilSlow } from '../support/gate.js';
import {
  startZkEnsemble,
  startZkLoad,
  zkEnsembleForTests,
  type ZkEnsemble,
  type ZkLoad,
} from './zookeeper-ensemble.js';

const haveZk = zkEnsembleForTests();
let zk: ZkEnsemble | undefined;
let load: ZkLoad | undefined;
afterAll(async () => {
  await load?.stop();
  await zk?.stop();
});

describe.skipIf(!haveZk)('ZooKeeper ensemble harness (real servers)', () => {
  it('forms a quorum of three and serves a light load', async () => {
    zk = await startZkEnsemble();
    expect((await zk.modes()).sort()).toEqual(['follower', 'follower', 'leader']);
    load = await startZkLoad(zk);
    const before = load.ops();
    await untilSlow(() => load!.ops() >= before + 30, '30 more operations', 20_000);
    expect(load.ops()).toBeGreaterThanOrEqual(before + 30);
  }, 90_000);
});
