// The member side of the barrier over ZooKeeper (HBase's ZKProcedureMemberRpcs). A member
// registers an ephemeral members/<member> znode (its liveness, watched by the coordinator), and
// watches, under every procedure signature, acquired/ (new runs, and runs removed by the
// coordinator), reached/ (go) and abort/ (someone aborted). All watches are on fixed directories,
// never on per-run znodes that may never be created, so no watch outlives its run (cf. HBASE-13885).
//
// A run this member is part of ends here in one of four ways: it completes; an abort znode names
// it; its acquired/<instance> znode disappears before it completed (the coordinator aborted and
// cleaned up before this member read the abort znode); or this member's own session expires, which
// it treats as a local failure (the coordinator has seen it die and aborts the run).
import { ForeignException } from '../../barrier/errors.js';
import type { MemberCallbacks, ProcedureMemberRpcs, ProcedureRef } from '../../barrier/transport.js';
import type { LogicalThread } from '../../threads/index.js';
import { ZkStartupError } from './connection.js';
import { decodeError, decodeProcedureState, encodeJson, type MemberRegistration } from './codec.js';
import { writeAbort } from './coordinator-rpcs.js';
import {
  MEMBERS_DIR,
  PROCEDURES_DIR,
  barrierDir,
  checkSegment,
  instanceNode,
  liveMemberNode,
  memberNode,
} from './layout.js';
import { isZkError, type ZkSession, type ZkStateChange } from '../../substrate/zookeeper.js';
import { ChildWatch } from './watch.js';

export interface ZkMemberRpcsOptions {
  session: ZkSession;
  member: string;
  /** Shown in the registration znode: the node's substrate pid. */
  pid?: number;
  log?: (message: string) => void;
}

type RunState = 'acquiring' | 'acquired' | 'in-barrier' | 'completed' | 'aborted';

interface MemberRun {
  ref: ProcedureRef;
  coordinator: string;
  state: RunState;
}

interface SignatureWatches {
  acquired: ChildWatch;
  reached: ChildWatch;
  abort: ChildWatch;
}

/** Runs of other members (or already aborted) that this member decided to ignore, per signature. */
const MAX_IGNORED_PER_SIGNATURE = 10_000;
/** Procedure signatures a member follows; more is a runaway, not a deployment. */
const MAX_SIGNATURES = 100;
/** How long past one session timeout a member waits for a previous life's registration to expire. */
const REGISTER_GRACE_MS = 2_000;
/** Pause between looks at a registration held by another session. */
const REGISTER_RETRY_MS = 200;

/** Whether a run has ended here (a function, so the check is re-done after each await). */
function isOver(run: MemberRun): boolean {
  return run.state === 'completed' || run.state === 'aborted';
}

export class ZkMemberRpcs implements ProcedureMemberRpcs {
  readonly memberName: string;
  private callbacks: MemberCallbacks | undefined;
  private readonly runs = new Map<string, MemberRun>();
  /** Per signature, the reached/<instance> znodes of the last listing (as many as exist). */
  private readonly reachedSeen = new Map<string, Set<string>>();
  private readonly ignored = new Map<string, Set<string>>();
  private readonly signatures = new Map<string, SignatureWatches>();
  private readonly rootWatch: ChildWatch;
  private readonly log: (message: string) => void;
  private unsubscribe: (() => void) | undefined;
  private registeredGeneration = 0;
  private closed = false;

  constructor(private readonly options: ZkMemberRpcsOptions) {
    this.memberName = checkSegment('member name', options.member);
    this.log = options.log ?? (() => {});
    this.rootWatch = new ChildWatch(options.session, PROCEDURES_DIR, (c) => this.onSignatures(c ?? []), this.log);
  }

  async start(member: MemberCallbacks): Promise<void> {
    this.callbacks = member;
    const session = this.options.session;
    this.unsubscribe = session.onStateChange((c) => this.onSessionState(c));
    await this.register();
    await session.mkdirp(PROCEDURES_DIR);
    await this.rootWatch.start();
  }

  async sendMemberAcquired(thread: LogicalThread, ref: ProcedureRef): Promise<void> {
    const path = memberNode(ref, 'acquired', this.memberName);
    await thread.waitOn({ kind: 'io', what: `zookeeper create ${path}` }, this.acquired(ref, path));
  }

  async sendMemberCompleted(thread: LogicalThread, ref: ProcedureRef, data: unknown): Promise<void> {
    const path = memberNode(ref, 'reached', this.memberName);
    await thread.waitOn({ kind: 'io', what: `zookeeper create ${path}` }, this.completed(ref, path, data));
  }

  async sendMemberAborted(thread: LogicalThread, ref: ProcedureRef, error: ForeignException): Promise<void> {
    const run = this.runs.get(ref.instance);
    if (run) run.state = 'aborted';
    await thread.waitOn(
      { kind: 'io', what: `zookeeper create ${instanceNode(ref, 'abort')}` },
      writeAbort(this.options.session, ref, error),
    );
  }

  /** Stops watching and removes the registration, so a coordinator sees this member leave at once. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.unsubscribe?.();
    this.rootWatch.stop();
    for (const w of this.signatures.values()) for (const c of Object.values(w)) (c as ChildWatch).stop();
    this.signatures.clear();
    const session = this.options.session;
    if (session.state === 'connected') {
      try {
        await session.deleteIfPresent(liveMemberNode(this.memberName));
      } catch (err) {
        this.log(`${this.memberName}: could not remove ${liveMemberNode(this.memberName)}: ${(err as Error).message}`);
      }
    }
  }

  private async acquired(ref: ProcedureRef, path: string): Promise<void> {
    const run = this.runs.get(ref.instance);
    try {
      await this.options.session.createIfAbsent(path);
    } catch (err) {
      if (isZkError(err, 'NO_NODE'))
        throw new Error(`procedure ${ref.name} was aborted and removed by the coordinator`);
      throw err;
    }
    if (run && run.state === 'acquiring') run.state = 'acquired';
    // 'reached' may have been listed while this member was still acquiring (a retried create, a
    // resumed run): the reached/ watch skipped it then. Later ones find the state 'acquired'.
    if (run?.state === 'acquired' && this.reachedSeen.get(ref.signature)?.has(ref.instance)) this.goInside(run);
  }

  private async completed(ref: ProcedureRef, path: string, data: unknown): Promise<void> {
    const run = this.runs.get(ref.instance);
    try {
      await this.options.session.createIfAbsent(path, encodeJson(data));
    } catch (err) {
      if (isZkError(err, 'NO_NODE'))
        throw new Error(`procedure ${ref.name} was aborted and removed by the coordinator`);
      throw err;
    }
    if (run) run.state = 'completed';
  }

  private async register(): Promise<void> {
    const session = this.options.session;
    const path = liveMemberNode(this.memberName);
    await session.mkdirp(MEMBERS_DIR);
    const registration: MemberRegistration = {
      format: 'rollcall-zk-member/1',
      member: this.memberName,
      pid: this.options.pid ?? 0,
      startedWallMs: session.clock.wallMs(),
    };
    const generation = session.generation;
    // A previous life of this member (a crashed process, an expired session) may still hold the
    // znode until the server expires its session: wait for that, bounded by one session timeout.
    const clock = session.clock;
    const deadline = clock.nowMs() + session.sessionTimeoutMs + REGISTER_GRACE_MS;
    while (true) {
      if (await session.createIfAbsent(path, encodeJson(registration), 'ephemeral')) break;
      const holder = await session.exists(path);
      if (holder && holder.ephemeralOwner === session.sessionId) break;
      if (clock.nowMs() > deadline) {
        throw new ZkStartupError(
          `member name '${this.memberName}' is registered by another live ZooKeeper session (${holder?.ephemeralOwner ?? '?'}): ` +
            `is a second worker running with the same name?`,
        );
      }
      await new Promise<void>((r) => clock.setTimer(REGISTER_RETRY_MS, r));
    }
    this.registeredGeneration = generation;
  }

  private onSignatures(children: string[]): void {
    for (const signature of children) {
      if (this.signatures.has(signature) || this.closed) continue;
      if (this.signatures.size >= MAX_SIGNATURES) {
        this.log(`${this.memberName}: more than ${MAX_SIGNATURES} procedure signatures; ignoring '${signature}'`);
        continue;
      }
      const session = this.options.session;
      const watches: SignatureWatches = {
        acquired: new ChildWatch(
          session,
          barrierDir(signature, 'acquired'),
          (c) => this.onAcquiredDir(signature, c ?? []),
          this.log,
        ),
        reached: new ChildWatch(
          session,
          barrierDir(signature, 'reached'),
          (c) => this.onReachedDir(signature, c ?? []),
          this.log,
        ),
        abort: new ChildWatch(session, barrierDir(signature, 'abort'), (c) => this.onAbortDir(c ?? []), this.log),
      };
      this.signatures.set(signature, watches);
      watches.abort.schedule();
      watches.reached.schedule();
      watches.acquired.schedule();
    }
  }

  private async onAcquiredDir(signature: string, children: string[]): Promise<void> {
    const present = new Set(children);
    // Runs whose znodes the coordinator removed while this member was still in them.
    for (const [instance, run] of this.runs) {
      if (run.ref.signature !== signature || present.has(instance)) continue;
      this.runs.delete(instance);
      if (run.state === 'completed' || run.state === 'aborted') continue;
      run.state = 'aborted';
      this.callbacks?.receiveAbortProcedure(
        run.ref,
        new ForeignException(
          run.coordinator,
          `procedure ${run.ref.name} (instance ${instance}) was aborted: the coordinator removed its znodes`,
          false,
          true,
        ),
      );
    }
    let ignored = this.ignored.get(signature);
    if (!ignored) this.ignored.set(signature, (ignored = new Set()));
    for (const instance of ignored) if (!present.has(instance)) ignored.delete(instance);
    const fresh = children.filter((i) => !this.runs.has(i) && !ignored.has(i));
    await Promise.all(fresh.map((instance) => this.startRun(signature, instance, ignored)));
  }

  private async startRun(signature: string, instance: string, ignored: Set<string>): Promise<void> {
    const session = this.options.session;
    const path = instanceNode({ signature, instance }, 'acquired');
    // One round trip for the state and both checks: this is on every barrier's critical path.
    // Already aborted, or acquired by an earlier life of this member whose subprocedure is gone:
    // nothing to join (in the second case this member reports the loss so nobody waits for it).
    const ref = { signature, instance };
    const [read, aborted, mine] = await Promise.all([
      session.getDataIfPresent(path),
      session.exists(instanceNode(ref, 'abort')),
      session.exists(memberNode(ref, 'acquired', this.memberName)),
    ]);
    if (!read || this.runs.has(instance) || this.closed) return;
    const ignore = (): void => {
      if (ignored.size < MAX_IGNORED_PER_SIGNATURE) ignored.add(instance);
    };
    let state;
    try {
      state = decodeProcedureState(path, read.data);
    } catch (err) {
      this.log(`${this.memberName}: ${(err as Error).message}; ignored`);
      ignore();
      return;
    }
    if (!state.members.includes(this.memberName)) {
      ignore();
      return;
    }
    if (this.runs.has(instance) || this.closed) return;
    if (aborted) {
      ignore();
      return;
    }
    if (mine) {
      ignore();
      await writeAbort(
        session,
        state.ref,
        new ForeignException(this.memberName, `member restarted during procedure ${state.ref.name} and lost its part`),
      );
      return;
    }
    const run: MemberRun = { ref: state.ref, coordinator: state.coordinator, state: 'acquiring' };
    this.runs.set(instance, run);
    try {
      this.callbacks?.receivedAcquire(state.ref, state.args, state.coordinator);
    } catch (err) {
      // The member could not start its part (pool full, one already running): abort the run.
      run.state = 'aborted';
      const error = ForeignException.wrap(this.memberName, err);
      this.log(`${this.memberName}: cannot join ${state.ref.name}: ${error.message}`);
      await writeAbort(session, state.ref, error);
    }
  }

  private onReachedDir(signature: string, children: string[]): void {
    this.reachedSeen.set(signature, new Set(children));
    for (const instance of children) {
      const run = this.runs.get(instance);
      if (run?.state === 'acquired') this.goInside(run);
    }
  }

  private async onAbortDir(children: string[]): Promise<void> {
    for (const instance of children) {
      const run = this.runs.get(instance);
      if (!run || isOver(run)) continue;
      const path = instanceNode(run.ref, 'abort');
      const read = await this.options.session.getDataIfPresent(path);
      if (!read || isOver(run)) continue;
      const wire = decodeError(path, read.data);
      run.state = 'aborted';
      // The member's own report comes back here too; it already knows.
      if (wire.source === this.memberName) continue;
      this.callbacks?.receiveAbortProcedure(run.ref, ForeignException.fromWire(wire));
    }
  }

  private goInside(run: MemberRun): void {
    run.state = 'in-barrier';
    this.callbacks?.receivedReachedGlobalBarrier(run.ref);
  }

  private onSessionState(change: ZkStateChange): void {
    if (this.closed) return;
    if (change.state === 'expired') {
      // The server deleted members/<me>: the coordinator has already aborted every run this member
      // was in. End them here as a local failure so the work stops and the reason is logged.
      for (const run of this.runs.values()) {
        if (run.state === 'completed' || run.state === 'aborted') continue;
        run.state = 'aborted';
        this.callbacks?.receiveAbortProcedure(
          run.ref,
          new ForeignException(this.memberName, `ZooKeeper session expired during procedure ${run.ref.name}`),
        );
      }
      return;
    }
    if (change.state === 'connected' && change.generation !== this.registeredGeneration) {
      // A new session after an expiry: register again (the watches re-arm themselves).
      this.register().catch((err: unknown) =>
        this.log(`${this.memberName}: could not register again after a session expiry: ${(err as Error).message}`),
      );
    }
  }
}
