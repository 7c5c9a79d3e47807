// Coordinator failover, the second thing rollcall does beyond HBase: a master that wins the
// election looks at every run left under procedures/ and either resumes it or aborts it cleanly,
// so no member is left waiting for a coordinator that is gone.
//
// - A run with an abort znode was already ending: its znodes are removed (members that still
//   hold it see acquired/<instance> vanish and cancel).
// - A run past its deadline (started + timeout, wall clock) is aborted as a timeout naming the
//   members that had not reported.
// - A run the policy can resume gets a new Procedure on this master with the same instance, the
//   same members, the time that is left and the policy's after-barrier work (rolllog: the
//   backup-table write). The master's coordinator adopts it when it offers resumeProcedure (real
//   nodes do), so the run is one of its procedures for clients that poll; otherwise it runs
//   standalone with its reports routed to it. Its first steps are idempotent over ZooKeeper (the
//   acquired and reached znodes exist or are created), and the watches it sets report every member
//   that already acquired or finished, so it continues from the phase the old master reached.
// - Any other run is aborted with an error saying why it could not be resumed.
// - Znodes of runs that have no acquired/<instance> (a crash in the middle of a cleanup) are removed.
import { ForeignException } from '../../barrier/errors.js';
import { FRAMES } from '../../barrier/frames.js';
import { Procedure, listMembers, type AfterBarrier, type ProcedureOutcome } from '../../barrier/procedure.js';
import type { CoordinatorCallbacks, ProcedureRef } from '../../barrier/transport.js';
import type { Clock } from '../../substrate/types.js';
import type { ThreadRegistry } from '../../threads/index.js';
import { decodeError, decodeProcedureState, type ProcedureState } from './codec.js';
import { removeRun, writeAbort, type ZkCoordinatorRpcs } from './coordinator-rpcs.js';
import { PROCEDURES_DIR, barrierDir, instanceNode } from './layout.js';

export interface ResumePlan {
  /** The after-barrier work of the resumed run (e.g. rolllog's backup-table write). */
  afterBarrier?: AfterBarrier<unknown>;
}

/** Decides, per leftover run, whether this master can finish it (a plan) or must abort it (a reason). */
export type ResumePolicy = (state: ProcedureState) => ResumePlan | { abort: string };

export interface RecoveryOptions {
  rpcs: ZkCoordinatorRpcs;
  /** This master's node name. */
  node: string;
  clock: Clock;
  threads: ThreadRegistry;
  wakeIntervalMs?: number;
  /** Default: resume every run, with no after-barrier work. */
  policy?: ResumePolicy;
  log?: (message: string) => void;
}

export interface RecoveredRun {
  ref: ProcedureRef;
  action: 'resumed' | 'aborted' | 'cleaned';
  reason: string;
  /**
   * For a run that ended here (aborted, or cleaned while aborting) whose state was readable: the
   * error it ended with and its member count, so the master can tell a client that polls for it.
   */
  ended?: { error: ForeignException; members: number };
  /** For resumed runs: resolves when the run completed or aborted here. */
  completion?: Promise<ProcedureOutcome<unknown>>;
}

export const RECOVERY_FRAME = 'rollcall.coordination.zookeeper.Recovery.run';
/** Leftover runs handled per signature in one pass; more is a runaway that a later pass continues. */
const MAX_RUNS_PER_PASS = 1_000;

export async function recoverProcedures(options: RecoveryOptions): Promise<RecoveredRun[]> {
  const session = options.rpcs.session;
  const log = options.log ?? (() => {});
  const out: RecoveredRun[] = [];
  const mine = new Set(options.rpcs.runningInstances());
  const signatures = (await session.getChildrenIfPresent(PROCEDURES_DIR)) ?? [];
  for (const signature of signatures) {
    const [acquired, reached, aborts] = await Promise.all(
      (['acquired', 'reached', 'abort'] as const).map(
        async (d) => new Set((await session.getChildrenIfPresent(barrierDir(signature, d))) ?? []),
      ),
    );
    for (const instance of [...acquired!].slice(0, MAX_RUNS_PER_PASS)) {
      if (mine.has(instance)) continue;
      const path = instanceNode({ signature, instance }, 'acquired');
      const read = await session.getDataIfPresent(path);
      if (!read) continue;
      let state: ProcedureState;
      try {
        state = decodeProcedureState(path, read.data);
      } catch (err) {
        await removeRun(session, { signature, instance });
        out.push({ ref: { signature, name: '?', instance }, action: 'cleaned', reason: (err as Error).message });
        continue;
      }
      out.push(await recoverRun(options, state, aborts!.has(instance)));
    }
    // Reports and aborts of runs whose acquired znode is already gone.
    for (const instance of new Set([...reached!, ...aborts!])) {
      if (acquired!.has(instance) || mine.has(instance)) continue;
      await removeRun(session, { signature, instance });
      out.push({
        ref: { signature, name: '?', instance },
        action: 'cleaned',
        reason: 'znodes left by an interrupted cleanup',
      });
    }
  }
  for (const r of out)
    log(`${options.node}: recovery: ${r.action} ${r.ref.name} (instance ${r.ref.instance}): ${r.reason}`);
  return out;
}

async function recoverRun(options: RecoveryOptions, state: ProcedureState, aborting: boolean): Promise<RecoveredRun> {
  const { ref } = state;
  const session = options.rpcs.session;
  if (aborting) {
    const error = await abortError(options, state);
    await removeRun(session, ref);
    return {
      ref,
      action: 'cleaned',
      reason: 'it was already aborting when its coordinator went away',
      ended: { error, members: state.members.length },
    };
  }
  const remainingMs = state.startedWallMs + state.timeoutMs - options.clock.wallMs();
  if (remainingMs <= 0) {
    const missing = await missingMembers(options, state);
    return abortRun(
      options,
      state,
      new ForeignException(
        options.node,
        `procedure ${ref.name} (instance ${ref.instance}) timed out after ${state.timeoutMs} ms while its coordinator ` +
          `${state.coordinator} was gone; ${missing.length} of ${state.members.length} members missing: ${listMembers(missing)}`,
        true,
      ),
    );
  }
  let plan: ResumePlan | { abort: string };
  try {
    plan = (options.policy ?? resumeEverything)(state);
  } catch (err) {
    plan = { abort: (err as Error).message };
  }
  if ('abort' in plan) {
    return abortRun(
      options,
      state,
      new ForeignException(options.node, `master failover: cannot resume procedure ${ref.name}: ${plan.abort}`),
    );
  }
  const reason = `started by ${state.coordinator}; ${Math.round(remainingMs)} ms of its ${state.timeoutMs} ms left`;
  // The master's own coordinator takes the run when it can: then it is one of its procedures, so
  // clients polling that master (by name, id or instance) see it run and finish.
  const coordinator = options.rpcs.coordinatorCallbacks;
  if (coordinator?.resumeProcedure) {
    let adopted: Procedure<unknown>;
    try {
      adopted = coordinator.resumeProcedure({
        ref,
        args: state.args,
        members: state.members,
        timeoutMs: remainingMs,
        ...(plan.afterBarrier ? { afterBarrier: plan.afterBarrier } : {}),
      });
    } catch (err) {
      return abortRun(
        options,
        state,
        new ForeignException(
          options.node,
          `master failover: cannot resume procedure ${ref.name}: ${(err as Error).message}`,
        ),
      );
    }
    return { ref, action: 'resumed', reason, completion: adopted.completion };
  }
  const proc = new Procedure<unknown>(
    {
      coordinator: options.node,
      rpcs: options.rpcs,
      clock: options.clock,
      wakeIntervalMs: options.wakeIntervalMs ?? 500,
      log: options.log ?? (() => {}),
      onFinished: () => {},
    },
    options.rpcs.nextResumedProcId(),
    ref,
    state.args,
    state.members,
    remainingMs,
    plan.afterBarrier,
  );
  options.rpcs.route(ref.instance, procedureTarget(options.node, proc));
  const thread = options.threads.spawn(`(${options.node})-proc-coordinator-resumed-${ref.name}`, {
    pool: 'proc-coordinator',
  });
  void thread
    .run(FRAMES.procedureCall, () => proc.call(thread))
    .catch((err: unknown) => options.log?.(`${options.node}: resumed ${ref.name} failed: ${(err as Error).message}`))
    .finally(() => options.threads.exit(thread));
  return {
    ref,
    action: 'resumed',
    reason,
    completion: proc.completion,
  };
}

async function abortRun(
  options: RecoveryOptions,
  state: ProcedureState,
  error: ForeignException,
): Promise<RecoveredRun> {
  const { ref } = state;
  const session = options.rpcs.session;
  await options.threads.withThread(`(${options.node})-zk-recovery`, RECOVERY_FRAME, async (thread) => {
    await thread.waitOn(
      { kind: 'io', what: `zookeeper create ${instanceNode(ref, 'abort')}` },
      writeAbort(session, ref, error),
    );
    await thread.waitOn(
      { kind: 'io', what: `zookeeper delete ${instanceNode(ref, 'acquired')}` },
      removeRun(session, ref),
    );
  });
  return { ref, action: 'aborted', reason: error.message, ended: { error, members: state.members.length } };
}

/** The error an aborting run was ending with (its abort znode), or one saying it was aborting. */
async function abortError(options: RecoveryOptions, state: ProcedureState): Promise<ForeignException> {
  const path = instanceNode(state.ref, 'abort');
  try {
    const read = await options.rpcs.session.getDataIfPresent(path);
    if (read) return ForeignException.fromWire(decodeError(path, read.data));
  } catch {
    // Unreadable: fall back to what is known.
  }
  return new ForeignException(
    options.node,
    `procedure ${state.ref.name} (instance ${state.ref.instance}) was aborting when its coordinator ${state.coordinator} went away`,
  );
}

/** Members that had not reported in the run's current phase. */
async function missingMembers(options: RecoveryOptions, state: ProcedureState): Promise<string[]> {
  const session = options.rpcs.session;
  const reached = await session.getChildrenIfPresent(instanceNode(state.ref, 'reached'));
  const reported = new Set(reached ?? (await session.getChildrenIfPresent(instanceNode(state.ref, 'acquired'))) ?? []);
  return state.members.filter((m) => !reported.has(m));
}

/** Delivers a resumed run's reports straight to its Procedure (the coordinator does not own it). */
function procedureTarget(node: string, proc: Procedure<unknown>): CoordinatorCallbacks {
  return {
    name: node,
    memberAcquiredBarrier: (_ref, member) => proc.barrierAcquiredByMember(member),
    memberFinishedBarrier: (_ref, member, data) => proc.barrierReleasedByMember(member, data),
    memberAborted: (_ref, error) => proc.receive(error),
  };
}

/** The default policy: resume every run, with no after-barrier work of its own. */
export const resumeEverything: ResumePolicy = () => ({});
