// What a stack says about its thread, decided once per distinct (stack, state) and memoized: a
// bundle of 600 dumps repeats the same few thousand stacks, so every regex here runs a few thousand
// times, not millions.
//
// - idle: waiting for work — a pool worker on its queue, a selector, socket accept/read, a timer
//   loop, JVM housekeeping, HBase handlers parked in getCallRunner. Never BLOCKED on a monitor.
// - sleeping: Thread.sleep and friends outside an idle loop — waits on nothing but time ("a
//   sleeping thread is not waiting on anything"): busy (it holds its pool slot) but live.
// - busy: anything else. A busy waiting thread may match wait rules (an RPC, a barrier).
// Also what the stack says about RPC (services.ts): the call it is blocked in, the call it serves,
// whether it is a pool worker — and which frame made it idle, for --explain.
import type { Frame, NormalizedState, ThreadDump } from '../dumps/model.js';
import type { RulePack, WaitRule } from './rules.js';
import { siteFacts, type SiteFacts } from './services.js';

export type StackNature = 'idle' | 'sleeping' | 'busy';

/** R runnable, W waiting (incl. timed), B blocked on a monitor, N new/terminated. */
export type StateCode = 'R' | 'W' | 'B' | 'N';

export interface WaitMatch {
  rule: WaitRule;
  /** The frames that made the match (the blocking frame, then the `via` frame). */
  evidence: string[];
}

export interface StackFacts extends SiteFacts {
  nature: StackNature;
  waits: WaitMatch[];
  /** The innermost frame, for "top stuck stacks" (`(no frames)` when there are none). */
  top: string;
  /** Why the stack is idle: the frame (or rule) that says it waits for work. */
  idleBecause?: string;
  /**
   * A RUNNABLE stack blocked in the kernel on the reply of a client call (a socket read under a
   * Thrift client): it waits on the call, so it is treated as waiting, not running.
   */
  waitsOnCall?: boolean;
}

const CODE_SLOT: Record<StateCode, number> = { R: 0, W: 1, B: 2, N: 3 };

/** Bound on memoized stacks; past it facts are computed without being kept. */
export const MAX_MEMO_STACKS = 500_000;

/** Frames that are the mechanism of waiting, not its reason: skipped to find the caller. */
const PRIMITIVE =
  /^(?:jdk\.internal\.misc\.Unsafe|sun\.misc\.Unsafe)\.park|^java\.util\.concurrent\.locks\.(?:LockSupport|AbstractQueuedSynchronizer|AbstractQueuedLongSynchronizer)|^java\.lang\.Object\.wait|^java\.lang\.Thread\.(?:sleep|sleep0|sleepNanos|sleepNanos0|onSpinWait|yield|yield0|parkOn)|^java\.lang\.VirtualThread\.(?:park|parkNanos|parkOnCarrierThread|yieldContinuation)|^jdk\.internal\.vm\.Continuation\.|^java\.util\.concurrent\.TimeUnit\.sleep/;

const SLEEP = /^java\.lang\.Thread\.(?:sleep|sleep0|sleepNanos|sleepNanos0)$|^java\.util\.concurrent\.TimeUnit\.sleep$/;

/** Matched within the top frames (after nothing is skipped): waiting-for-work points. */
const IDLE_FRAMES: RegExp[] = [
  // j.u.c. queues and executors.
  /(?:Queue|Deque|Exchanger)[\w$]*\.(?:take|poll|transfer|awaitFulfill|xfer|awaitMatch|awaitNode)$/,
  /^java\.util\.concurrent\.(?:ThreadPoolExecutor\.getTask|ForkJoinPool\.(?:awaitWork|runWorker|scan)|ForkJoinPool\$\w+\.|SynchronousQueue)/,
  /^java\.util\.(?:TimerThread\.mainLoop|concurrent\.ScheduledThreadPoolExecutor\$DelayedWorkQueue)/,
  // Selectors, event loops.
  /^sun\.nio\.ch\.(?:EPoll|KQueue|WEPoll|Poll|DevPoll)[\w$]*\.(?:wait|poll|epollWait|kevent0|doSelect|poll0)$/,
  /^sun\.nio\.ch\.(?:SelectorImpl|EPollSelectorImpl|KQueueSelectorImpl|WindowsSelectorImpl)\.(?:select|lockAndDoSelect|doSelect)$/,
  /^io\.netty\.(?:channel\.(?:nio\.NioEventLoop\.select|epoll\.(?:Native\.epollWait|EpollEventLoop\.epollWait)|kqueue\.KQueueEventLoop\.kqueueWait)|util\.concurrent\.SingleThreadEventExecutor\.takeTask)/,
  // Socket accept and read.
  /^(?:java\.net\.(?:ServerSocket|PlainSocketImpl|DualStackPlainSocketImpl|AbstractPlainSocketImpl)|sun\.nio\.ch\.(?:Net|NioSocketImpl|ServerSocketChannelImpl|ServerSocketAdaptor))\.(?:accept|accept0|socketAccept|implAccept|platformAccept)$/,
  /^(?:java\.net\.SocketInputStream\.(?:socketRead0|socketRead|read)|sun\.nio\.ch\.(?:NioSocketImpl\.(?:read|timedRead|park|implRead)|SocketDispatcher\.read0?|SocketChannelImpl\.read|Net\.poll))$/,
  // Reading a pipe or stdin (a process waiting for its parent, a console).
  /^java\.io\.FileInputStream\.(?:readBytes|read0)$/,
  // GUI event loops.
  /^(?:java\.awt\.EventQueue\.getNextEvent|sun\.awt\.X11\.XToolkit\.waitForEvents|sun\.lwawt\.macosx\.LWCToolkit\.doAWTRunLoop)$/,
  // JVM housekeeping.
  /^java\.lang\.ref\.(?:Reference\.(?:waitForReferencePendingList|processPendingReferences)|Reference\$ReferenceHandler\.run|ReferenceQueue\.(?:remove|remove0|await)|Finalizer\$FinalizerThread\.run)$/,
  /^jdk\.internal\.ref\.CleanerImpl\.run$|^sun\.misc\.GC\$Daemon\.run$|^java\.lang\.ProcessHandleImpl/,
  // Common server frameworks' idle points.
  /^org\.eclipse\.jetty\.util\.thread\.(?:QueuedThreadPool\.idleJobPoll|ReservedThreadExecutor\$ReservedThread\.reservedWait)$/,
  /^org\.apache\.zookeeper\.(?:ClientCnxnSocketNIO\.doTransport|server\.NIOServerCnxnFactory\$SelectorThread\.select)/,
  // rollcall's own idle handler frame.
  /^rollcall\.rpc\.\w*Handler\.getCallRunner$/,
];
const IDLE_WITHIN = 12;

/** Runnable threads in these frames are blocked in the kernel waiting for input: idle too. */
const RUNNABLE_IDLE_WITHIN = 6;

const MACHINERY = /^java\.util\.concurrent\.|^java\.lang\.Object\.wait/;

/**
 * The frame that says why a thread waits: the innermost one past the waiting machinery (park,
 * Object.wait, AQS, latches, futures) — `Procedure.waitForLatch`, not `Unsafe.park`.
 */
export function reasonFrame(frames: readonly Frame[]): string {
  if (frames.length === 0) return '(no frames)';
  const n = Math.min(frames.length, 16);
  for (let i = 0; i < n; i++) {
    const q = qualified(frames[i]!);
    if (!PRIMITIVE.test(q) && !MACHINERY.test(q)) return frames[i]!.text;
  }
  return frames[0]!.text;
}

/** How a dump's state maps to the four codes; an unknown state (jcmd JSON) is read off the top frame. */
export function stateCode(state: NormalizedState, frames: readonly Frame[]): StateCode {
  switch (state) {
    case 'RUNNABLE':
      return 'R';
    case 'BLOCKED':
      return 'B';
    case 'WAITING':
    case 'TIMED_WAITING':
      return 'W';
    case 'NEW':
    case 'TERMINATED':
      return 'N';
    case 'UNKNOWN': {
      const top = frames[0];
      return top !== undefined && PRIMITIVE.test(qualified(top)) ? 'W' : frames.length === 0 ? 'N' : 'R';
    }
  }
}

const qualifiedCache = new WeakMap<Frame, string>();

/** `pkg.Class.method`, the form every pattern in the rules matches. */
export function qualified(f: Frame): string {
  let q = qualifiedCache.get(f);
  if (q === undefined) {
    q = f.className.length > 0 ? `${f.className}.${f.method}` : f.method;
    qualifiedCache.set(f, q);
  }
  return q;
}

/** The frames that matter for what the thread does: a carrier's mounted virtual thread first. */
export function effectiveFrames(t: ThreadDump): readonly Frame[] {
  const m = t.mountedVirtualThread;
  return m !== undefined && m.frames.length > 0 ? m.frames : t.frames;
}

export function effectiveStackKey(t: ThreadDump): string {
  const m = t.mountedVirtualThread;
  return m !== undefined && m.frames.length > 0 ? m.stackKey : t.stackKey;
}

/** Classifies stacks; one instance per analysis (it memoizes, and carries the rule packs). */
export class StackClassifier {
  /**
   * Per stack key, the facts for each state code (CODE_SLOT). Keyed by the stack key itself, not
   * code + key: the key strings are shared by every thread with that stack, so their hashes are
   * computed once, where a concatenation per thread would be built and hashed every time.
   */
  private readonly memo = new Map<string, (StackFacts | undefined)[]>();
  private readonly idleRules: { frame: RegExp; within: number }[];
  private readonly waitRules: WaitRule[];

  constructor(packs: readonly RulePack[]) {
    // User packs come first in `packs`, so their rules win.
    this.idleRules = packs.flatMap((p) => p.idle);
    this.waitRules = packs.flatMap((p) => p.waits);
  }

  /** `stackKey` must identify `frames` (the thread's effective stack key). */
  facts(stackKey: string, frames: readonly Frame[], code: StateCode): StackFacts {
    const slot = CODE_SLOT[code];
    let byCode = this.memo.get(stackKey);
    const found = byCode?.[slot];
    if (found !== undefined) return found;
    const facts = this.compute(frames, code);
    if (byCode === undefined && this.memo.size < MAX_MEMO_STACKS) {
      byCode = [undefined, undefined, undefined, undefined];
      this.memo.set(stackKey, byCode);
    }
    if (byCode !== undefined) byCode[slot] = facts;
    return facts;
  }

  private compute(frames: readonly Frame[], code: StateCode): StackFacts {
    const top = reasonFrame(frames);
    if (code === 'N') return { nature: 'idle', waits: [], top, idleBecause: 'not started or terminated' };
    // VM-internal threads (GC, compiler, signal dispatcher…) print no frames.
    if (frames.length === 0) return { nature: 'idle', waits: [], top, idleBecause: 'no Java frames (a VM thread)' };
    const sites = siteFacts(frames);
    if (code === 'W' || code === 'B') {
      const waits = this.matchWaits(frames);
      if (waits.length > 0 || sites.call !== undefined) return { ...sites, nature: 'busy', waits, top };
    }
    if (code === 'B') return { ...sites, nature: 'busy', waits: [], top };
    const within = code === 'R' ? RUNNABLE_IDLE_WITHIN : IDLE_WITHIN;
    const idleAt = this.idleFrame(frames, within);
    if (idleAt !== undefined) {
      // Reading a socket inside a client call is waiting for the reply, not for work.
      if (code === 'R' && sites.call !== undefined)
        return { ...sites, nature: 'busy', waits: [], top, waitsOnCall: true };
      return { ...sites, nature: 'idle', waits: [], top, idleBecause: idleAt };
    }
    if (code === 'W') {
      // A loop that waits or sleeps right inside its run(): a chore, a monitor thread, a roller.
      let i = 0;
      while (i < frames.length && PRIMITIVE.test(qualified(frames[i]!))) i++;
      if (i > 0 && i < frames.length) {
        const caller = frames[i]!;
        if ((caller.method === 'run' || caller.method === 'mainLoop') && i + 3 >= frames.length) {
          return { ...sites, nature: 'idle', waits: [], top, idleBecause: `a loop waiting in ${caller.text}` };
        }
      }
      // Sleeping elsewhere (inside a request, a retry backoff) keeps the thread busy but waits on
      // nothing: it wakes by itself.
      if (SLEEP.test(qualified(frames[0]!)) || (i > 0 && SLEEP.test(qualified(frames[i - 1]!)))) {
        return { ...sites, nature: 'sleeping', waits: [], top };
      }
    }
    return { ...sites, nature: 'busy', waits: [], top };
  }

  /** The frame (within the top ones) that makes a stack idle, as `at frame` or `rule: frame`. */
  private idleFrame(frames: readonly Frame[], within: number): string | undefined {
    const n = Math.min(frames.length, within);
    for (let i = 0; i < n; i++) {
      const q = qualified(frames[i]!);
      for (const re of IDLE_FRAMES) if (re.test(q)) return `waits for work at ${frames[i]!.text}`;
      for (const r of this.idleRules) if (i < r.within && r.frame.test(q)) return `idle by rule at ${frames[i]!.text}`;
    }
    return undefined;
  }

  private matchWaits(frames: readonly Frame[]): WaitMatch[] {
    const out: WaitMatch[] = [];
    for (const rule of this.waitRules) {
      const n = Math.min(frames.length, rule.within);
      let at = -1;
      for (let i = 0; i < n; i++) {
        if (rule.frame.test(qualified(frames[i]!))) {
          at = i;
          break;
        }
      }
      if (at < 0) continue;
      const evidence = [`at ${frames[at]!.text}`];
      if (rule.via !== undefined) {
        let via = -1;
        for (let i = at; i < frames.length; i++) {
          if (rule.via.test(qualified(frames[i]!))) {
            via = i;
            break;
          }
        }
        if (via < 0) continue;
        if (via !== at) evidence.push(`at ${frames[via]!.text}`);
      }
      out.push({ rule, evidence });
      // The first matching rule of a family decides the target (packs list specific rules first).
      break;
    }
    return out;
  }
}
