// The barrier framework over a real ZooKeeper server: HBase's znode layout, member liveness,
// coordinator failover, cleanup, and a server restart in the middle of a barrier.
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  ForeignException,
  ProcedureCoordinator,
  ProcedureMember,
  Subprocedure,
  type SubprocedureContext,
} from '../../src/barrier/index.js';
import type { ProcedureRef } from '../../src/barrier/transport.js';
import {
  ZkCoordinatorRpcs,
  ZkMasterRole,
  ZkMemberRpcs,
  openZkSession,
  zkLayout,
  type RecoveredRun,
  type ResumePolicy,
  type ZkSession,
} from '../../src/coordination/zookeeper/index.js';
import { BackupAdminClient, DEFAULT_BACKUP_ROOT, ROLLLOG_SIGNATURE } from '../../src/cluster/index.js';
import { RpcClient } from '../../src/rpc/index.js';
import { runRolllog, type RolllogOptions } from '../../src/runtime/index.js';
import { RealClock } from '../../src/substrate/real/index.js';
import { ThreadRegistry, type LogicalThread } from '../../src/threads/index.js';
import { gate, untilSlow, type Gate } from '../support/gate.js';
import { zkServerForTests, type ZkServer } from './zk-server.js';
import { startMasterPair, startPairWorkers } from './master-pair.js';
import { startFreezeProxy } from './freeze-proxy.js';

const zk: ZkServer | undefined = await zkServerForTests();

/** Short sessions so expiry tests take seconds (zk.sh allows 1,000 ms and up). */
const SESSION_MS = 2_000;
const SIGNATURE = 'test-proc';
const NAME = 'test';
const clock = new RealClock();

type Hook = (member: string, thread: LogicalThread) => Promise<void>;
interface Behaviour {
  acquire?: Hook;
  inside?: Hook;
}

class TestSubprocedure extends Subprocedure {
  constructor(
    ctx: SubprocedureContext,
    ref: ProcedureRef,
    private readonly behaviour: Behaviour,
  ) {
    super(ctx, ref);
  }
  async acquireBarrier(thread: LogicalThread): Promise<void> {
    await this.behaviour.acquire?.(this.ctx.member, thread);
  }
  async insideBarrier(thread: LogicalThread): Promise<unknown> {
    await this.behaviour.inside?.(this.ctx.member, thread);
    return { member: this.ctx.member, value: this.ctx.member.length };
  }
}

interface TestMember {
  name: string;
  session: ZkSession;
  member: ProcedureMember;
  stop(): Promise<void>;
}

interface TestMaster {
  name: string;
  session: ZkSession;
  rpcs: ZkCoordinatorRpcs;
  coordinator: ProcedureCoordinator;
  role: ZkMasterRole;
  active: Promise<RecoveredRun[]>;
  stop(): Promise<void>;
}

const cleanups: (() => Promise<void>)[] = [];
/** What the test's ZooKeeper sessions logged (reconnects, expiries); printed when a test fails. */
const sessionLog: string[] = [];
const MAX_SESSION_LOG_LINES = 2_000;
const logSession = (message: string): void => {
  if (sessionLog.length < MAX_SESSION_LOG_LINES) sessionLog.push(`${new Date().toISOString()} ${message}`);
};

afterEach(async ({ task }) => {
  if (task.result?.state === 'fail' && sessionLog.length > 0)
    console.error(`ZooKeeper session log of the failed test:\n${sessionLog.join('\n')}`);
  sessionLog.length = 0;
  while (cleanups.length) await cleanups.pop()!().catch(() => {});
});
afterAll(async () => {
  await zk?.destroy();
});

let chrootCounter = 0;
function newChroot(): string {
  return `/rollcall-test-${process.pid}-${++chrootCounter}`;
}

async function startMember(
  chroot: string,
  name: string,
  behaviour: Behaviour = {},
  memberTimeoutMs = 20_000,
): Promise<TestMember> {
  const session = await openZkSession(zk!.url(chroot), { sessionTimeoutMs: SESSION_MS, owner: name, log: logSession });
  const threads = new ThreadRegistry(name, 'worker', process.pid, clock);
  const rpcs = new ZkMemberRpcs({ session, member: name, pid: process.pid });
  const member = new ProcedureMember({
    node: name,
    rpcs,
    threads,
    clock,
    timeoutMs: memberTimeoutMs,
    wakeIntervalMs: 100,
    factory: (ctx, ref) => new TestSubprocedure(ctx, ref, behaviour),
  });
  await member.start();
  const m: TestMember = {
    name,
    session,
    member,
    stop: async () => {
      await member.close();
      await session.close();
    },
  };
  cleanups.push(m.stop);
  return m;
}

async function startMembers(chroot: string, n: number, behaviour: Behaviour = {}): Promise<TestMember[]> {
  return Promise.all(Array.from({ length: n }, (_, i) => startMember(chroot, `w${i + 1}`, behaviour)));
}

async function startMaster(
  chroot: string,
  name: string,
  options: { procedureTimeoutMs?: number; policy?: ResumePolicy } = {},
): Promise<TestMaster> {
  const procedureTimeoutMs = options.procedureTimeoutMs ?? 30_000;
  const session = await openZkSession(zk!.url(chroot), { sessionTimeoutMs: SESSION_MS, owner: name, log: logSession });
  const threads = new ThreadRegistry(name, 'master', process.pid, clock);
  const rpcs = new ZkCoordinatorRpcs({ session, node: name, clock, procedureTimeoutMs });
  const coordinator = new ProcedureCoordinator({
    node: name,
    rpcs,
    threads,
    clock,
    timeoutMs: procedureTimeoutMs,
    wakeIntervalMs: 100,
  });
  await coordinator.start();
  const role = new ZkMasterRole({
    rpcs,
    info: { format: 'rollcall-zk-master/1', name, rpcAddress: '', adminAddress: '', pid: process.pid },
    clock,
    threads,
    wakeIntervalMs: 100,
    ...(options.policy ? { policy: options.policy } : {}),
  });
  const m: TestMaster = {
    name,
    session,
    rpcs,
    coordinator,
    role,
    active: role.becomeActive(),
    stop: async () => {
      await coordinator.close();
      await role.stop();
      await session.close();
    },
  };
  m.active.catch(() => {});
  cleanups.push(m.stop);
  return m;
}

function run(master: TestMaster, members: readonly string[], timeoutMs?: number) {
  return master.coordinator.startProcedure({
    signature: SIGNATURE,
    name: NAME,
    args: { hello: 'world' },
    members,
    ...(timeoutMs ? { timeoutMs } : {}),
  });
}

/** Every znode under the procedure directories: empty when nothing was left behind. */
async function leftovers(session: ZkSession): Promise<string[]> {
  const out: string[] = [];
  for (const dir of zkLayout.BARRIER_DIRS) {
    const children = (await session.getChildrenIfPresent(zkLayout.barrierDir(SIGNATURE, dir))) ?? [];
    out.push(...children.map((c) => `${dir}/${c}`));
  }
  return out;
}

function memberErrors(members: readonly TestMember[]): (string | undefined)[] {
  return members.map((m) => m.member.subprocedure(NAME)?.error?.message);
}

describe.skipIf(!zk)('rolllog over ZooKeeper (in-process cluster, real TCP)', () => {
  async function rolllog(chroot: string, o: Partial<RolllogOptions>) {
    const rows: { table: Record<string, number>; wals: Record<string, number> }[] = [];
    const report = await runRolllog({
      nodes: 10,
      mode: 'fixed',
      runs: 1,
      coordination: `${zk!.url(chroot)}?sessionTimeoutMs=${SESSION_MS}`,
      ...o,
      hooks: {
        finish: (ctx) => {
          const c = ctx.local!.cluster;
          rows.push({
            table: c.master.backupTable.readRegionServerLastLogRollResult(DEFAULT_BACKUP_ROOT),
            wals: Object.fromEntries(c.workers.map((w) => [w.name, w.wal.highestClosed])),
          });
        },
      },
    });
    return { report, rows: rows[0]! };
  }

  async function rolllogLeftovers(chroot: string): Promise<string[]> {
    const s = await openZkSession(zk!.url(chroot), { sessionTimeoutMs: SESSION_MS });
    try {
      const out: string[] = [];
      for (const dir of zkLayout.BARRIER_DIRS) {
        const c = (await s.getChildrenIfPresent(zkLayout.barrierDir(ROLLLOG_SIGNATURE, dir))) ?? [];
        out.push(...c.map((x) => `${dir}/${x}`));
      }
      out.push(...((await s.getChildrenIfPresent(zkLayout.MEMBERS_DIR)) ?? []).map((m) => `members/${m}`));
      return out;
    } finally {
      await s.close();
    }
  }

  it('fixed mode at 20 workers: every run ok, backup table equals the WALs, nothing left in ZooKeeper', async () => {
    const chroot = newChroot();
    const { report, rows } = await rolllog(chroot, { nodes: 20, runs: 3 });
    expect(report.runs.map((r) => r.outcome)).toEqual(['ok', 'ok', 'ok']);
    expect(rows.table).toEqual(rows.wals);
    expect(Object.keys(rows.table)).toHaveLength(20);
    expect(await rolllogLeftovers(chroot)).toEqual([]);
  });

  it('legacy mode completes below the pool threshold', async () => {
    const { report, rows } = await rolllog(newChroot(), { nodes: 10, mode: 'legacy', runs: 2 });
    expect(report.runs.map((r) => r.outcome)).toEqual(['ok', 'ok']);
    expect(rows.table).toEqual(rows.wals);
  });

  it('legacy mode still deadlocks the master’s pool: ZooKeeper changes the signalling, not the RPC pools', async () => {
    const { report } = await rolllog(newChroot(), {
      nodes: 10,
      mode: 'legacy',
      handlers: 6,
      rpcTimeoutMs: 2_500,
      procedureTimeoutMs: 2_500,
      checkCostMs: 20,
    });
    // Ended by the timer (the exact virtual timing is test/sim's: the cliff at the wall).
    expect(report.runs[0]!.outcome).toBe('timeout');
  });
  it('a standby master that took over runs the next rolllog with the workers registered in ZooKeeper', async () => {
    const chroot = newChroot();
    const url = `${zk!.url(chroot)}?sessionTimeoutMs=${SESSION_MS}`;
    const pair = await startMasterPair(url, 5_000, cleanups);
    const { a, b, bStarted, transportA, substrate } = pair;
    await startPairWorkers(pair, ['w1', 'w2', 'w3'], cleanups);
    const threads = new ThreadRegistry('client', 'client', process.pid, clock);
    const rpc = new RpcClient({ node: 'client', substrate });
    cleanups.push(async () => rpc.close());
    const request = { mode: 'fixed' as const, rpcTimeoutMs: 5_000, procedureTimeoutMs: 5_000 };
    const viaA = await new BackupAdminClient(rpc, a.peer, clock, threads.spawn('a')).rolllog(request);
    expect(viaA.outcome).toBe('ok');
    // master-a dies: its session expires, master-b wins and starts serving.
    transportA()!.rpcs!.session.crash();
    await bStarted;
    const viaB = await new BackupAdminClient(rpc, b.peer, clock, threads.spawn('b')).rolllog(request);
    expect(viaB.error).toBeUndefined();
    expect(viaB.outcome).toBe('ok');
    // The workers never registered with master-b over RPC: the members came from ZooKeeper.
    expect(Object.keys(b.backupTable.readRegionServerLastLogRollResult(DEFAULT_BACKUP_ROOT)).sort()).toEqual([
      'w1',
      'w2',
      'w3',
    ]);
  });
});

describe.skipIf(!zk)('barrier over ZooKeeper', () => {
  it('runs a two-phase barrier at 20 members with HBase’s znode layout and removes its znodes', async () => {
    const chroot = newChroot();
    const seen: string[] = [];
    const master = await startMaster(chroot, 'master');
    await master.active;
    const members = await startMembers(chroot, 20, {
      // Inside the barrier every member's acquired znode and the reached znode exist.
      inside: async (member) => {
        if (member !== 'w1') return;
        const procs = await master.session.getChildren(zkLayout.barrierDir(SIGNATURE, 'acquired'));
        seen.push(...procs);
      },
    });
    const names = members.map((m) => m.name);
    for (let i = 0; i < 3; i++) {
      const proc = run(master, names);
      const outcome = await proc.completion;
      expect(outcome.error?.message).toBeUndefined();
      expect(outcome.ok).toBe(true);
      expect([...outcome.results.keys()].sort()).toEqual([...names].sort());
      expect(outcome.results.get('w7')).toEqual({ member: 'w7', value: 2 });
      expect(seen).toContain(proc.ref.instance);
      expect(members.every((m) => m.member.subprocedure(NAME)?.isComplete && !m.member.subprocedure(NAME)?.error)).toBe(
        true,
      );
      // Nothing grows from run to run: the coordinator removed every znode of the run.
      expect(await leftovers(master.session)).toEqual([]);
    }
  });

  it('aborts every member when one fails, naming it', async () => {
    const chroot = newChroot();
    const master = await startMaster(chroot, 'master');
    await master.active;
    // The others stay inside until the abort has reached them.
    const hold = gate();
    cleanups.push(async () => hold.open());
    const members = await startMembers(chroot, 5, {
      inside: async (member) => {
        if (member === 'w3') throw new Error('disk full');
        await hold.promise;
      },
    });
    const outcome = await run(
      master,
      members.map((m) => m.name),
    ).completion;
    hold.open();
    expect(outcome.ok).toBe(false);
    expect(outcome.error?.source).toBe('w3');
    expect(outcome.error?.message).toContain('disk full');
    await untilSlow(() => members.every((m) => m.member.subprocedure(NAME)?.isComplete), 'members released', 5_000);
    expect(await leftovers(master.session)).toEqual([]);
  });

  it('aborts at once when an expected member has no live session', async () => {
    const chroot = newChroot();
    const master = await startMaster(chroot, 'master');
    await master.active;
    const members = await startMembers(chroot, 3);
    const outcome = await run(master, [...members.map((m) => m.name), 'ghost']).completion;
    expect(outcome.ok).toBe(false);
    expect(outcome.error?.source).toBe('ghost');
    expect(outcome.error?.message).toMatch(/no live ZooKeeper session/);
    await untilSlow(
      () => members.every((m) => m.member.subprocedure(NAME)?.isComplete ?? true),
      'members released',
      5_000,
    );
    expect(await leftovers(master.session)).toEqual([]);
  });

  it('aborts within the session timeout, not the procedure timeout, when a member dies mid-barrier', async () => {
    const chroot = newChroot();
    const master = await startMaster(chroot, 'master', { procedureTimeoutMs: 30_000 });
    await master.active;
    const stuck = gate();
    const inside = gate();
    const members = await startMembers(chroot, 6, {
      inside: async (member) => {
        // w4 is "killed" while inside the barrier; the others finish and wait.
        if (member === 'w4') {
          inside.open();
          await stuck.promise;
        }
      },
    });
    const proc = run(
      master,
      members.map((m) => m.name),
    );
    await inside.promise;
    members[3]!.session.crash(); // TCP drops, no close-session: the server expires it after SESSION_MS
    const outcome = await proc.completion;
    stuck.open();
    // Ended by the session's expiry, not the 30 s timer (test/sim times that window exactly).
    expect(outcome.ok).toBe(false);
    expect(outcome.error?.source).toBe('w4');
    expect(outcome.error?.message).toMatch(/ZooKeeper session ended/);
    expect(await leftovers(master.session)).toEqual([]);
  });

  it('a standby master resumes a run whose master died mid-barrier, releasing every member', async () => {
    const chroot = newChroot();
    const primary = await startMaster(chroot, 'master-a');
    await primary.active;
    const standby = await startMaster(chroot, 'master-b');
    const late = gate();
    let acquiredOnce = false;
    const members = await startMembers(chroot, 8, {
      acquire: async (member) => {
        // w8 acquires only after the failover, so the run spans both masters.
        if (member === 'w8') {
          acquiredOnce = true;
          await late.promise;
        }
      },
    });
    const names = members.map((m) => m.name);
    const proc = run(primary, names);
    await untilSlow(() => acquiredOnce, 'w8 acquiring', 5_000);
    await untilSlow(() => proc.missing().length === 1, 'seven members acquired', 5_000);
    primary.session.crash(); // the active master dies
    const recovered = await standby.active;
    expect(standby.role.isActive).toBe(true);
    const resumed = recovered.find((r) => r.ref.instance === proc.ref.instance);
    expect(resumed?.action).toBe('resumed');
    late.open();
    const outcome = await resumed!.completion!;
    expect(outcome.error?.message).toBeUndefined();
    expect(outcome.ok).toBe(true);
    expect([...outcome.results.keys()].sort()).toEqual([...names].sort());
    await untilSlow(
      () => members.every((m) => m.member.subprocedure(NAME)?.isComplete && !m.member.subprocedure(NAME)?.error),
      'every member completed',
      5_000,
    );
    expect(await leftovers(standby.session)).toEqual([]);
    // The dead master's own Procedure ended too: fenced, it wrote nothing after losing its session.
    const old = await proc.completion;
    expect(old.ok).toBe(false);
  });

  it('a standby master that cannot resume a run aborts it cleanly, and members stop waiting', async () => {
    const chroot = newChroot();
    const primary = await startMaster(chroot, 'master-a');
    await primary.active;
    const standby = await startMaster(chroot, 'master-b', {
      policy: (state) => ({ abort: `no handler for ${state.ref.signature} on this master` }),
    });
    const never = gate();
    cleanups.push(async () => never.open());
    const members = await startMembers(chroot, 4, {
      acquire: async (member) => {
        if (member === 'w4') await never.promise; // never in time
      },
    });
    const proc = run(
      primary,
      members.map((m) => m.name),
    );
    await untilSlow(() => proc.missing().length === 1, 'three members acquired', 5_000);
    primary.session.crash();
    const recovered = await standby.active;
    const r = recovered.find((x) => x.ref.instance === proc.ref.instance);
    expect(r?.action).toBe('aborted');
    expect(r?.reason).toMatch(/no handler for test-proc/);
    // Members that acquired were waiting for 'reached': the abort releases them at once.
    await untilSlow(
      () => ['w1', 'w2', 'w3'].every((n) => members.find((m) => m.name === n)!.member.subprocedure(NAME)?.isComplete),
      'acquired members released',
      5_000,
    );
    expect(memberErrors(members.slice(0, 3)).every((e) => e !== undefined)).toBe(true);
    expect(await leftovers(standby.session)).toEqual([]);
  });

  it('the next leader removes znodes a crashed coordinator left behind', async () => {
    const chroot = newChroot();
    const setup = await openZkSession(zk!.url(chroot), { sessionTimeoutMs: SESSION_MS });
    cleanups.push(() => setup.close());
    // A crash in the middle of a cleanup: reports and an abort with no acquired/<instance>.
    await setup.mkdirp(`${zkLayout.barrierDir(SIGNATURE, 'reached')}/9.dead/w1`);
    await setup.mkdirp(zkLayout.barrierDir(SIGNATURE, 'acquired'));
    await setup.mkdirp(`${zkLayout.barrierDir(SIGNATURE, 'abort')}/8.dead`);
    // And a whole run whose deadline passed while no master was up.
    const ref = { signature: SIGNATURE, name: NAME, instance: '7.dead' };
    await setup.create(
      zkLayout.instanceNode(ref, 'acquired'),
      new TextEncoder().encode(
        JSON.stringify({
          format: 'rollcall-zk-procedure/1',
          ref,
          coordinator: 'old-master',
          members: ['w1', 'w2'],
          args: null,
          startedWallMs: Date.now() - 120_000,
          timeoutMs: 60_000,
        }),
      ),
    );
    await setup.create(`${zkLayout.instanceNode(ref, 'acquired')}/w1`);
    const master = await startMaster(chroot, 'master');
    const recovered = await master.active;
    const timedOut = recovered.find((r) => r.ref.instance === '7.dead');
    expect(timedOut?.action).toBe('aborted');
    expect(timedOut?.reason).toMatch(/timed out .* 1 of 2 members missing: w2/);
    expect(
      recovered
        .filter((r) => r.action === 'cleaned')
        .map((r) => r.ref.instance)
        .sort(),
    ).toEqual(['8.dead', '9.dead']);
    expect(await leftovers(master.session)).toEqual([]);
  });

  it('survives a ZooKeeper restart in the middle of a barrier: completes or fails cleanly, nobody hangs', async () => {
    const chroot = newChroot();
    const master = await startMaster(chroot, 'master', { procedureTimeoutMs: 15_000 });
    await master.active;
    const insideGate: Gate = gate();
    // Members stay inside the barrier until ZooKeeper is back (or their own timer ends them).
    const back: Gate = gate();
    cleanups.push(async () => back.open());
    let inside = 0;
    const memberTimeoutMs = 12_000;
    const members = await Promise.all(
      Array.from({ length: 5 }, (_, i) =>
        startMember(
          chroot,
          `w${i + 1}`,
          {
            inside: async () => {
              if (++inside === 5) insideGate.open();
              await back.promise;
            },
          },
          memberTimeoutMs,
        ),
      ),
    );
    const proc = run(
      master,
      members.map((m) => m.name),
    );
    await insideGate.promise;
    const r0 = Date.now();
    // Not awaited before the checks below: a slow restart must not excuse a member that hangs.
    const restarted = (async () => {
      await zk!.stop();
      await zk!.start();
      console.info(`ZooKeeper restarted in ${Date.now() - r0} ms`);
      back.open();
    })();
    // Members first: whatever the server does, none outlives its own timer (bounded here; the
    // member timer's exact virtual timing is test/sim's).
    await untilSlow(
      () => members.every((m) => m.member.subprocedure(NAME)?.isComplete),
      'every member finished',
      memberTimeoutMs + 2_000,
    );
    await restarted;
    // The coordinator ends too: completed, or aborted with a reason (its ZooKeeper calls are bounded).
    const outcome = await proc.completion;
    if (!outcome.ok) expect(outcome.error?.message).toBeTruthy();
    // Usually the sessions survive the restart and the run completes.
    console.info(`ZooKeeper restart mid-barrier: ${outcome.ok ? 'completed' : `aborted (${outcome.error?.message})`}`);
    expect(await leftovers(master.session)).toEqual([]);
    // A loaded machine can take many seconds to restart a JVM; the checks above bound what matters.
  }, 120_000);
});

describe.skipIf(!zk)('ZooKeeper session', () => {
  it('drops a connection that stops answering and keeps the session on a new one', async () => {
    const proxy = await startFreezeProxy(zk!.port);
    const logs: string[] = [];
    const session = await openZkSession(`zookeeper://127.0.0.1:${proxy.port}${newChroot()}`, {
      sessionTimeoutMs: 6_000,
      attemptTimeoutMs: 800,
      owner: 'frozen',
      log: (m) => logs.push(m),
    });
    try {
      await session.create('/before', new TextEncoder().encode('x'));
      const sessionId = session.sessionId;
      // The path goes silent: the socket stays open, nothing comes back. The client itself would
      // wait on it until the server expired the session.
      proxy.freeze();
      expect(await session.getChildren('/')).toEqual(['before']);
      // Answered on a new connection, after the attempt timed out on the frozen one.
      expect(proxy.accepted).toBeGreaterThanOrEqual(2);
      expect(session.sessionId).toBe(sessionId); // same session: its ephemeral znodes survive
      expect(logs.some((l) => /had no answer within 800 ms; dropping the connection/.test(l))).toBe(true);
    } finally {
      await session.close();
      await proxy.close();
    }
  }, 30_000);
});

// Keeps the import used when the suite is skipped.
void ForeignException;
