// Master failover with real nodes (Master, Worker, the rolllog client) over a real ZooKeeper
// server: the standby that wins the election finishes a fixed-mode rolllog the dead master
// started (backup-table rows from the members' results), workers and clients follow the new
// master, and masters/active names a master's bound address.
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { BackupAdminClient, DEFAULT_BACKUP_ROOT, ROLLLOG_NAME, ROLLLOG_SIGNATURE } from '../../src/cluster/index.js';
import {
  ActiveMasterTracker,
  LeaderElection,
  openZkSession,
  zkLayout,
  type ZkSession,
} from '../../src/coordination/zookeeper/index.js';
import { RpcClient } from '../../src/rpc/index.js';
import { runRolllog, type RolllogReport } from '../../src/runtime/index.js';
import { RealClock } from '../../src/substrate/real/index.js';
import { formatAddress } from '../../src/substrate/types.js';
import { ThreadRegistry } from '../../src/threads/index.js';
import { untilSlow } from '../support/gate.js';
import { zkServerForTests, type ZkServer } from './zk-server.js';
import { holdRoll, startMasterPair, startPairWorkers } from './master-pair.js';

const zk: ZkServer | undefined = await zkServerForTests();

/** Short sessions: a dead master's session expires, and the standby takes over, in about this long. */
const SESSION_MS = 2_000;
const clock = new RealClock();
const encoder = new TextEncoder();

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => {});
});
afterAll(async () => {
  await zk?.destroy();
});

let chrootCounter = 0;
function newChroot(): string {
  return `/rollcall-failover-${process.pid}-${++chrootCounter}`;
}

async function testSession(url: string): Promise<ZkSession> {
  const s = await openZkSession(url, { sessionTimeoutMs: SESSION_MS, owner: 'test' });
  cleanups.push(() => s.close());
  return s;
}

describe.skipIf(!zk)('master failover with real nodes over ZooKeeper', () => {
  it('the standby finishes a fixed-mode rolllog whose master died mid-barrier; workers and clients follow it', async () => {
    const chroot = newChroot();
    const url = `${zk!.url(chroot)}?sessionTimeoutMs=${SESSION_MS}`;
    const procedureTimeoutMs = 15_000;
    const pair = await startMasterPair(url, procedureTimeoutMs, cleanups);
    const { a, b, bStarted, transportA, substrate } = pair;

    // masters/active names master-a's bound port (it listens on :0), not port 0.
    const observer = await testSession(zk!.url(chroot));
    const activeA = await LeaderElection.activeMaster(observer);
    expect(activeA?.name).toBe('master-a');
    expect(activeA?.rpcAddress).toBe(formatAddress(a.address));
    expect(a.address.port).toBeGreaterThan(0);

    const workers = await startPairWorkers(pair, ['w1', 'w2', 'w3', 'w4'], cleanups);
    // w4 rolls only when told: the run is inside the barrier, three members done, when master-a dies.
    const w4 = holdRoll(workers[3]!);

    // The rolllog client of a running cluster: finds the active master in ZooKeeper and follows it.
    const rolllog = (mode: 'fixed' | 'legacy'): Promise<RolllogReport> =>
      runRolllog({ nodes: 0, mode, runs: 1, masterFrom: url, rpcTimeoutMs: 5_000, procedureTimeoutMs });
    const fixed = rolllog('fixed');
    const rolllogSubs = () => workers.map((w) => w.member.subprocedure(ROLLLOG_NAME));
    await untilSlow(
      () => w4.rolling() && rolllogSubs().filter((s) => s?.isComplete && !s.error).length === 3,
      'w1..w3 done and w4 rolling inside the barrier',
      10_000,
    );
    const instance = (await observer.getChildren(zkLayout.barrierDir(ROLLLOG_SIGNATURE, 'acquired')))[0]!;
    expect(
      await observer.getChildren(zkLayout.instanceNode({ signature: ROLLLOG_SIGNATURE, instance }, 'reached')),
    ).toHaveLength(3);

    // master-a dies: its ZooKeeper connection drops (no goodbye) and its RPC server goes away.
    transportA()!.rpcs!.session.crash();
    await a.stop();
    await bStarted;
    expect(b.isActive).toBe(true);
    // The resumed run is one of master-b's procedures: visible by name while w4 still holds it.
    const threads = new ThreadRegistry('test-client', 'client', process.pid, clock);
    const rpc = new RpcClient({ node: 'test-client', substrate });
    cleanups.push(async () => rpc.close());
    const viaB = new BackupAdminClient(rpc, b.peer, clock, threads.spawn('poll'));
    const running = await viaB.getProcedureResult({ name: ROLLLOG_NAME }, 5_000);
    expect(running.instance).toBe(instance);
    expect(running.state).toBe('running');

    w4.release();
    const fixedReport = await fixed;
    expect(fixedReport.runs[0]!.error).toBeUndefined();
    // Through the failover (how long it takes, one session timeout, is timed exactly in test/sim).
    expect(fixedReport.runs[0]!.outcome).toBe('ok');

    // master-b wrote the backup table from the members' results (each member's last closed segment).
    const wals = Object.fromEntries(workers.map((w) => [w.name, w.wal.highestClosed]));
    expect(b.backupTable.readRegionServerLastLogRollResult(DEFAULT_BACKUP_ROOT)).toEqual(wals);
    expect(b.backupTable.rows(DEFAULT_BACKUP_ROOT).every((r) => r.procedure === instance)).toBe(true);
    // Every worker was released, without error; the run's znodes are gone.
    expect(rolllogSubs().every((s) => s?.isComplete && !s.error)).toBe(true);
    for (const d of zkLayout.BARRIER_DIRS) {
      expect(await observer.getChildren(zkLayout.barrierDir(ROLLLOG_SIGNATURE, d))).toEqual([]);
    }
    // A client polling master-b sees it finished, by name and by instance.
    for (const req of [{ name: ROLLLOG_NAME }, { instance }]) {
      const r = await viaB.getProcedureResult(req, 5_000);
      expect(r).toMatchObject({ state: 'finished', ok: true, instance, members: 4 });
    }

    // masters/active names master-b's bound address, and every worker follows it.
    const activeB = await LeaderElection.activeMaster(observer);
    expect(activeB?.rpcAddress).toBe(formatAddress(b.address));
    await untilSlow(
      () => workers.every((w) => w.masterPeer.node === 'master-b' && w.masterPeer.addr.port === b.address.port),
      'workers following master-b',
      5_000,
    );

    // Legacy mode through the new master: each worker's sanity check is a call to its master, so
    // this succeeds only if the workers call master-b (master-a's port is closed).
    const legacy = await rolllog('legacy');
    expect(legacy.runs[0]!.error).toBeUndefined();
    expect(legacy.runs[0]!.outcome).toBe('ok');
    expect(legacy.nodes).toBe(4);
    expect(b.backupTable.readRegionServerLastLogRollResult(DEFAULT_BACKUP_ROOT)).toEqual(
      Object.fromEntries(workers.map((w) => [w.name, w.wal.highestClosed])),
    );
  });

  it('a run that ended while no master was active: the standby cleans it up and its client learns how it ended', async () => {
    const chroot = newChroot();
    const url = `${zk!.url(chroot)}?sessionTimeoutMs=${SESSION_MS}`;
    // Shorter than a takeover (a session timeout): the run's timers fire while no master is active.
    const procedureTimeoutMs = 1_200;
    const pair = await startMasterPair(url, procedureTimeoutMs, cleanups);
    const { a, b, bStarted, transportA, substrate } = pair;
    const workers = await startPairWorkers(pair, ['w1', 'w2'], cleanups);
    const w2 = holdRoll(workers[1]!);
    cleanups.push(async () => w2.release());

    const observer = await testSession(zk!.url(chroot));
    const report = runRolllog({
      nodes: 0,
      mode: 'fixed',
      runs: 1,
      masterFrom: url,
      rpcTimeoutMs: 5_000,
      procedureTimeoutMs,
    });
    await untilSlow(() => w2.rolling(), 'w2 rolling inside the barrier', 10_000);
    const instance = (await observer.getChildren(zkLayout.barrierDir(ROLLLOG_SIGNATURE, 'acquired')))[0]!;
    transportA()!.rpcs!.session.crash();
    await a.stop();
    await bStarted;

    // The client followed master-b and asked for its run by instance: not "unknown procedure".
    const run = (await report).runs[0]!;
    console.info(`run after failover: ${run.outcome}: ${run.error}`);
    expect(run.outcome).not.toBe('ok');
    expect(run.error).toBeDefined();
    expect(run.error).not.toMatch(/unknown to the master/);
    expect(run.error).toMatch(/timed out|coordinator/);
    const threads = new ThreadRegistry('test-client', 'client', process.pid, clock);
    const rpc = new RpcClient({ node: 'test-client', substrate });
    cleanups.push(async () => rpc.close());
    const viaB = new BackupAdminClient(rpc, b.peer, clock, threads.spawn('poll'));
    expect(await viaB.getProcedureResult({ instance }, 5_000)).toMatchObject({
      state: 'finished',
      ok: false,
      instance,
      members: 2,
    });
    // Nothing of the run is left in ZooKeeper, and no member still holds it.
    for (const d of zkLayout.BARRIER_DIRS) {
      expect(await observer.getChildren(zkLayout.barrierDir(ROLLLOG_SIGNATURE, d))).toEqual([]);
    }
    w2.release();
    await untilSlow(
      () => workers.every((w) => w.member.subprocedure(ROLLLOG_NAME)?.isComplete === true),
      'every member released',
      5_000,
    );
  });

  it('the active-master view keeps the last master while none is published and moves to the next', async () => {
    const chroot = newChroot();
    const s = await testSession(zk!.url(chroot));
    await s.mkdirp(zkLayout.MASTERS_DIR);
    const viewer = await testSession(zk!.url(chroot));
    const tracker = new ActiveMasterTracker(viewer, 'viewer');
    cleanups.push(async () => tracker.stop());
    const seen: string[] = [];
    tracker.onChange((info, addr) => seen.push(`${info.name}@${formatAddress(addr)}`));
    await tracker.start();
    expect(tracker.current).toBeUndefined();
    await expect(tracker.waitForMaster(300)).rejects.toThrow(/no active master published in ZooKeeper/);
    const info = (name: string, rpcAddress: string) =>
      encoder.encode(JSON.stringify({ format: 'rollcall-zk-master/1', name, rpcAddress, adminAddress: '', pid: 1 }));
    // A master that has no usable address yet is not followed.
    await s.create(zkLayout.ACTIVE_MASTER, info('m0', '127.0.0.1:0'), 'ephemeral');
    await untilSlow(() => tracker.present, 'masters/active read', 5_000);
    expect(tracker.current).toBeUndefined();
    await s.delete(zkLayout.ACTIVE_MASTER);
    await s.create(zkLayout.ACTIVE_MASTER, info('m1', '127.0.0.1:1111'), 'ephemeral');
    await expect(tracker.waitForMaster(5_000)).resolves.toMatchObject({ info: { name: 'm1' } });
    // The leader dies: no masters/active, the view keeps m1 until the next one publishes itself.
    await s.delete(zkLayout.ACTIVE_MASTER);
    await untilSlow(() => !tracker.present, 'masters/active gone', 5_000);
    expect(tracker.current?.info.name).toBe('m1');
    await s.create(zkLayout.ACTIVE_MASTER, info('m2', '127.0.0.1:2222'), 'ephemeral');
    await untilSlow(() => tracker.current?.info.name === 'm2', 'view moved to m2', 5_000);
    expect(seen).toEqual(['m1@127.0.0.1:1111', 'm2@127.0.0.1:2222']);
  });
});
