// The coordinator side of the barrier over ZooKeeper (HBase's ZKProcedureCoordinator), plus the
// two things HBase lacks: member liveness (a member whose session ends aborts the run at once,
// named) and fencing (a coordinator that lost its session stops touching the run, because a
// standby master may already be resuming it).
//
// Watches: one children watch per running instance on acquired/<instance> (members acquiring) and
// on reached/<instance> (members done, with their results as data), one per signature on abort/
// (member aborts), and one on members/ (liveness). A children watch re-lists the whole directory
// when it fires; ZooKeeper coalesces the events that arrive during a listing into the next one, so
// a burst of N reports costs far fewer than N listings.
import { ForeignException } from '../../barrier/errors.js';
import { listMembers } from '../../barrier/procedure.js';
import type { CoordinatorCallbacks, ProcedureCoordinatorRpcs, ProcedureRef } from '../../barrier/transport.js';
import type { Clock } from '../../substrate/types.js';
import type { LogicalThread } from '../../threads/index.js';
import { decodeError, decodeJson, encodeJson, type ProcedureState } from './codec.js';
import {
  BARRIER_DIRS,
  PROCEDURES_DIR,
  barrierDir,
  instanceNode,
  liveMemberNode,
  memberNode,
  signatureDir,
} from './layout.js';
import { MemberLiveness } from './liveness.js';
import { isZkError, type ZkOp, type ZkSession, type ZkStateChange } from '../../substrate/zookeeper.js';
import { ChildWatch } from './watch.js';

export interface ZkCoordinatorRpcsOptions {
  session: ZkSession;
  /** The coordinator's node name (recorded in the procedure state; names its own errors). */
  node: string;
  clock: Clock;
  /**
   * The coordinator's procedure timeout, recorded with each run so that a standby that resumes it
   * knows its deadline (the transport is not told the per-run timeout).
   */
  procedureTimeoutMs: number;
  log?: (message: string) => void;
}

/** Above this many znodes a cleanup runs as separate deletes instead of one multi (its 1 MiB limit). */
const MAX_MULTI_OPS = 2_000;
/** Procedure ids of runs resumed standalone (no coordinator to adopt them) start here. */
const RESUMED_PROC_ID_BASE = 1_000_000;

type Phase = 'acquiring' | 'in-barrier' | 'ending';

interface Run {
  ref: ProcedureRef;
  members: ReadonlySet<string>;
  acquired: Set<string>;
  completed: Set<string>;
  phase: Phase;
  /** Session generation that started (or resumed) the run: a later one must not touch it. */
  generation: number;
  fenced: boolean;
  target: CoordinatorCallbacks;
  acquiredWatch?: ChildWatch;
  reachedWatch?: ChildWatch;
}

export class ZkCoordinatorRpcs implements ProcedureCoordinatorRpcs {
  private callbacks: CoordinatorCallbacks | undefined;
  private readonly runs = new Map<string, Run>();
  /** Report targets of runs resumed after a failover (they are not the coordinator's own). */
  private readonly routes = new Map<string, CoordinatorCallbacks>();
  private readonly abortWatches = new Map<string, ChildWatch>();
  private readonly readySignatures = new Set<string>();
  readonly liveness: MemberLiveness;
  private readonly log: (message: string) => void;
  private readonly unsubscribes: (() => void)[] = [];
  private closed = false;
  private resumedProcIds = RESUMED_PROC_ID_BASE;

  constructor(private readonly options: ZkCoordinatorRpcsOptions) {
    this.log = options.log ?? (() => {});
    this.liveness = new MemberLiveness(options.session, this.log);
  }

  get session(): ZkSession {
    return this.options.session;
  }

  /** The coordinator bound by start() (recovery hands it the runs it resumes). */
  get coordinatorCallbacks(): CoordinatorCallbacks | undefined {
    return this.callbacks;
  }

  async start(coordinator: CoordinatorCallbacks): Promise<void> {
    this.callbacks = coordinator;
    await this.options.session.mkdirp(PROCEDURES_DIR);
    await this.liveness.start();
    this.unsubscribes.push(
      this.liveness.onDeparture((m) => this.memberDeparted(m)),
      this.options.session.onStateChange((c) => this.onSessionState(c)),
    );
  }

  /** Sends reports of `instance` to `target` instead of the coordinator (a resumed run). */
  route(instance: string, target: CoordinatorCallbacks): void {
    this.routes.set(instance, target);
  }

  /** Registered members (members/), sorted; undefined until the first listing. */
  liveMembers(): readonly string[] | undefined {
    return this.liveness.isStarted ? [...this.liveness.liveMembers()].sort() : undefined;
  }

  /** A procedure id for a run resumed standalone; per coordinator, so a seed replays the same ids. */
  nextResumedProcId(): number {
    return this.resumedProcIds++;
  }

  /** Instances this coordinator runs (its own and resumed ones). */
  runningInstances(): string[] {
    return [...this.runs.keys()];
  }

  async sendGlobalBarrierAcquire(
    thread: LogicalThread,
    ref: ProcedureRef,
    args: unknown,
    members: readonly string[],
  ): Promise<void> {
    await thread.waitOn(
      { kind: 'io', what: `zookeeper create ${instanceNode(ref, 'acquired')}` },
      this.acquire(ref, args, members),
    );
  }

  async sendGlobalBarrierReached(thread: LogicalThread, ref: ProcedureRef, _members: readonly string[]): Promise<void> {
    const run = this.runFor(ref, 'send reached');
    run.phase = 'in-barrier';
    const path = instanceNode(ref, 'reached');
    await thread.waitOn({ kind: 'io', what: `zookeeper create ${path}` }, this.reached(run, path));
  }

  async sendAbortToMembers(
    thread: LogicalThread,
    ref: ProcedureRef,
    error: ForeignException,
    _members: readonly string[],
  ): Promise<void> {
    const run = this.runs.get(ref.instance);
    if (run) run.phase = 'ending';
    if (run?.fenced) {
      this.log(`${this.options.node}: not writing the abort of ${ref.name}: this coordinator lost its session`);
      return;
    }
    const path = instanceNode(ref, 'abort');
    await thread.waitOn({ kind: 'io', what: `zookeeper create ${path}` }, writeAbort(this.options.session, ref, error));
  }

  async resetMembers(thread: LogicalThread, ref: ProcedureRef, _members: readonly string[]): Promise<void> {
    const run = this.runs.get(ref.instance);
    this.forget(ref.instance);
    if (run?.fenced) return;
    await thread.waitOn(
      { kind: 'io', what: `zookeeper delete ${instanceNode(ref, 'acquired')} and its reports` },
      removeRun(this.options.session, ref),
    );
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const instance of [...this.runs.keys()]) this.forget(instance);
    for (const w of this.abortWatches.values()) w.stop();
    this.abortWatches.clear();
    for (const u of this.unsubscribes) u();
    this.liveness.stop();
  }

  private async acquire(ref: ProcedureRef, args: unknown, members: readonly string[]): Promise<void> {
    const session = this.options.session;
    // The session the run starts in, taken before any round trip: one that expires meanwhile
    // fences the run, so a deposed coordinator never creates its znodes in the next session.
    const generation = session.generation;
    for (const r of this.runs.values()) {
      if (r.ref.name === ref.name && r.ref.instance !== ref.instance) {
        throw new ForeignException(
          this.options.node,
          `procedure '${ref.name}' is already running (instance ${r.ref.instance}, resumed after a master failover)`,
        );
      }
    }
    await this.ensureSignature(ref.signature);
    const run: Run = {
      ref,
      members: new Set(members),
      acquired: new Set(),
      completed: new Set(),
      phase: 'acquiring',
      generation,
      fenced: false,
      target: this.routes.get(ref.instance) ?? this.coordinator(),
    };
    this.runs.set(ref.instance, run);
    this.checkFence(run);
    const state: ProcedureState = {
      format: 'rollcall-zk-procedure/1',
      ref,
      coordinator: this.options.node,
      members: [...members],
      args,
      startedWallMs: this.options.clock.wallMs(),
      timeoutMs: this.options.procedureTimeoutMs,
    };
    // Already there when a standby resumes the run: the original state (and deadline) stays.
    await session.createIfAbsent(instanceNode(ref, 'acquired'), encodeJson(state));
    // Liveness before the first report: a member with no session will never acquire.
    const dead = await this.liveness.missing(members);
    if (dead.length > 0) {
      run.target.memberAborted(
        ref,
        new ForeignException(
          dead[0]!,
          `has no live ZooKeeper session (${liveMemberNode(dead[0]!)} does not exist: the member is not running, ` +
            `or its session expired); ${dead.length} of ${members.length} expected members are not registered: ${listMembers(dead)}`,
          false,
          true,
        ),
      );
      return;
    }
    run.acquiredWatch = new ChildWatch(
      session,
      instanceNode(ref, 'acquired'),
      (children) => this.onAcquired(run, children ?? []),
      this.log,
    );
    await run.acquiredWatch.start();
  }

  private async reached(run: Run, path: string): Promise<void> {
    this.checkFence(run);
    await this.options.session.createIfAbsent(path);
    run.reachedWatch = new ChildWatch(
      this.options.session,
      path,
      (children) => this.onReached(run, children ?? []),
      this.log,
    );
    await run.reachedWatch.start();
  }

  private onAcquired(run: Run, children: string[]): void {
    if (run.fenced || run.phase === 'ending') return;
    for (const member of children) {
      if (!run.members.has(member) || run.acquired.has(member)) continue;
      run.acquired.add(member);
      run.target.memberAcquiredBarrier(run.ref, member);
    }
  }

  private async onReached(run: Run, children: string[]): Promise<void> {
    if (run.fenced || run.phase === 'ending') return;
    const fresh = children.filter((m) => run.members.has(m) && !run.completed.has(m));
    if (fresh.length === 0) return;
    // The results travel as the znodes' data: read the new ones together, report in order.
    const reads = await Promise.all(
      fresh.map((m) => this.options.session.getDataIfPresent(memberNode(run.ref, 'reached', m))),
    );
    // Re-read: the awaits above let an abort or a fence in.
    if (isOver(run)) return;
    fresh.forEach((member, i) => {
      const read = reads[i];
      if (!read || run.completed.has(member)) return;
      let data: unknown;
      try {
        data = decodeJson(memberNode(run.ref, 'reached', member), read.data);
      } catch (err) {
        run.target.memberAborted(run.ref, new ForeignException(member, (err as Error).message, false, true));
        return;
      }
      run.completed.add(member);
      run.target.memberFinishedBarrier(run.ref, member, data);
    });
  }

  private async onAbortDir(signature: string, children: string[]): Promise<void> {
    for (const instance of children) {
      const run = this.runs.get(instance);
      if (!run || run.ref.signature !== signature || run.fenced || run.phase === 'ending') continue;
      const path = instanceNode(run.ref, 'abort');
      const read = await this.options.session.getDataIfPresent(path);
      if (!read || isOver(run)) continue;
      const wire = decodeError(path, read.data);
      run.target.memberAborted(run.ref, ForeignException.fromWire(wire));
    }
  }

  private memberDeparted(member: string): void {
    for (const run of this.runs.values()) {
      if (run.fenced || run.phase === 'ending' || !run.members.has(member) || run.completed.has(member)) continue;
      const phase = run.phase === 'acquiring' ? 'acquiring the barrier' : 'inside the barrier';
      run.target.memberAborted(
        run.ref,
        new ForeignException(
          member,
          `ZooKeeper session ended (ephemeral ${liveMemberNode(member)} was deleted) while procedure ${run.ref.name} ` +
            `was ${phase}: the member died or was cut off; aborting now instead of waiting for the procedure timer`,
          false,
          true,
        ),
      );
    }
  }

  private onSessionState(change: ZkStateChange): void {
    if (change.state !== 'expired' && change.state !== 'closed') return;
    // Fencing: once the session is gone a standby may win the election and resume these runs, so
    // this coordinator must not write to them again; it only ends them locally.
    for (const run of this.runs.values()) {
      if (run.fenced) continue;
      run.fenced = true;
      run.acquiredWatch?.stop();
      run.reachedWatch?.stop();
      run.target.memberAborted(
        run.ref,
        new ForeignException(
          this.options.node,
          `coordinator lost its ZooKeeper session (${change.state}); a standby master that wins the election ` +
            `resumes or aborts procedure ${run.ref.name}`,
        ),
      );
    }
  }

  private async ensureSignature(signature: string): Promise<void> {
    if (this.readySignatures.has(signature)) return;
    await ensureSignatureDirs(this.options.session, signature);
    if (!this.abortWatches.has(signature)) {
      const watch = new ChildWatch(
        this.options.session,
        barrierDir(signature, 'abort'),
        (children) => this.onAbortDir(signature, children ?? []),
        this.log,
      );
      this.abortWatches.set(signature, watch);
      await watch.start();
    }
    this.readySignatures.add(signature);
  }

  private runFor(ref: ProcedureRef, what: string): Run {
    const run = this.runs.get(ref.instance);
    if (!run) throw new Error(`${what}: procedure ${ref.name} (instance ${ref.instance}) is not running here`);
    this.checkFence(run);
    return run;
  }

  private checkFence(run: Run): void {
    if (run.fenced || run.generation !== this.options.session.generation) {
      run.fenced = true;
      throw new ForeignException(
        this.options.node,
        `coordinator lost its ZooKeeper session during procedure ${run.ref.name}; it no longer owns the run`,
      );
    }
  }

  private forget(instance: string): void {
    const run = this.runs.get(instance);
    run?.acquiredWatch?.stop();
    run?.reachedWatch?.stop();
    this.runs.delete(instance);
    this.routes.delete(instance);
  }

  private coordinator(): CoordinatorCallbacks {
    if (!this.callbacks) throw new Error('ZooKeeper coordinator transport used before start()');
    return this.callbacks;
  }
}

/** Whether a run stopped taking reports (a function, so the check is re-done after each await). */
function isOver(run: Run): boolean {
  return run.fenced || run.phase === 'ending';
}

/** Creates <signature>/{acquired,reached,abort} in one transaction, so members never see half of it. */
export async function ensureSignatureDirs(session: ZkSession, signature: string): Promise<void> {
  if ((await session.exists(barrierDir(signature, 'abort'))) !== null) return;
  await session.mkdirp(PROCEDURES_DIR);
  const ops: ZkOp[] = [
    { op: 'create', path: signatureDir(signature) },
    ...BARRIER_DIRS.map((d): ZkOp => ({ op: 'create', path: barrierDir(signature, d) })),
  ];
  try {
    await session.multi(ops);
  } catch (err) {
    // Another coordinator or an earlier life created them.
    if (!isZkError(err, 'NODE_EXISTS')) throw err;
  }
}

/**
 * Writes abort/<instance> only while acquired/<instance> exists: an abort for a run that was
 * already cleaned up would otherwise stay behind forever.
 */
export async function writeAbort(session: ZkSession, ref: ProcedureRef, error: ForeignException): Promise<void> {
  try {
    await session.multi([
      { op: 'check', path: instanceNode(ref, 'acquired') },
      { op: 'create', path: instanceNode(ref, 'abort'), data: encodeJson(error.toWire()) },
    ]);
  } catch (err) {
    if (isZkError(err, 'NO_NODE', 'NODE_EXISTS')) return;
    throw err;
  }
}

/**
 * Removes every znode of a run: member reports first, then the run's own znodes, in one
 * transaction when it fits (members then see the run vanish at once, never half of it).
 */
export async function removeRun(session: ZkSession, ref: Pick<ProcedureRef, 'signature' | 'instance'>): Promise<void> {
  const acquired = instanceNode(ref, 'acquired');
  const reached = instanceNode(ref, 'reached');
  const abort = instanceNode(ref, 'abort');
  const [a, r, ab] = await Promise.all([
    session.getChildrenIfPresent(acquired),
    session.getChildrenIfPresent(reached),
    session.exists(abort),
  ]);
  const ops: ZkOp[] = [];
  for (const m of r ?? []) ops.push({ op: 'delete', path: `${reached}/${m}` });
  if (r) ops.push({ op: 'delete', path: reached });
  for (const m of a ?? []) ops.push({ op: 'delete', path: `${acquired}/${m}` });
  if (a) ops.push({ op: 'delete', path: acquired });
  if (ab) ops.push({ op: 'delete', path: abort });
  if (ops.length === 0) return;
  if (ops.length <= MAX_MULTI_OPS) {
    try {
      await session.multi(ops);
      return;
    } catch (err) {
      // A report that arrived after the listing (NOT_EMPTY) or a znode another node removed
      // (NO_NODE): fall back to a tolerant tree removal.
      if (!isZkError(err, 'NOT_EMPTY', 'NO_NODE')) throw err;
    }
  }
  await session.deleteTree(reached);
  await session.deleteTree(acquired);
  await session.deleteIfPresent(abort);
}
