// What the analyzer keeps while rounds stream in: per node (names, roles, addresses, its pools),
// per thread a "track" through the samples (a few small numbers per round, the last state, frames
// and locks of the thread, what its stack says), and the bounds that keep a pathological input
// from making any of it unbounded. The modules of the analysis (tracks, waits, services, pools, verdict, summaries) share
// this state; none of them keeps dumps.
import type { Frame, LockLine } from '../dumps/model.js';
import type { WaitSpec, WaitTarget } from '../waitgraph/index.js';
import type { CycleStepOut } from './result.js';
import type { PoolMembership } from './pools.js';
import { MAX_ROUNDS } from '../dumps/limits.js';
import type { CallSite } from './services.js';
import type { StackFacts } from './stacks.js';
import type { ThreadClass } from './result.js';

/** Bounds: a pathological input cannot make the analysis unbounded (rounds: one limit with capture). */
export { MAX_ROUNDS };
export const MAX_NODES = 100_000;
export const MAX_TRACKS = 5_000_000;
export const MAX_DEADLOCKS = 1000;
/** Threads kept per group (a barrier member's threads on the procedure). */
export const MAX_GROUP_THREADS = 64;

/** Per thread, per round: state code, stack nature, present flag — one small integer. */
export const ABSENT = -1;
export const CODE_R = 0;
export const CODE_W = 1;
export const CODE_B = 2;
export const CODE_N = 3;
export const CODE_MASK = 3;
export const NATURE_IDLE = 4;
export const NATURE_SLEEPING = 8;

export interface Track {
  node: number;
  name: string;
  javaId: number | undefined;
  membership: PoolMembership | undefined;
  /** Per global round (ABSENT when missing). */
  codes: number[];
  /** Per global round: stack id (detail only). */
  stacks: number[] | undefined;
  present: number;
  changed: boolean;
  /** What changed first between two samples (for --explain). */
  changeReason: string | undefined;
  /** CPU, allocation or Blocked/Waited counts rose while the stack stayed the same. */
  countersRose: boolean;
  prevStack: string;
  prevCode: number;
  prevLock: string;
  prevRc: string;
  prevCpu: number | undefined;
  prevAlloc: number | undefined;
  prevBlocked: number | undefined;
  prevWaited: number | undefined;
  prevProgress: number | undefined;
  prevCompleted: number | undefined;
  /** CPU time in the first sample it was seen in, for --explain. */
  firstCpu: number | undefined;
  /** First and last CPU readings and when their rounds were taken (hot threads). */
  cpuFirstMs: number | undefined;
  cpuFirstAtMs: number | undefined;
  cpuLastMs: number | undefined;
  cpuLastAtMs: number | undefined;
  lastRound: number;
  idleRounds: number;
  nonLive: number;
  strictNonLive: number;
  /**
   * Evidence that what it waits for should already have happened: a lock owner, an outbound call,
   * a barrier or a rule naming the target (in some round). Without it a parked thread is waiting.
   */
  recognizedWait: boolean;
  /**
   * What the last sample showed beyond the numbers above: its Java state, frames and lock lines
   * (shared with other threads of the same stack), not the whole ThreadDump, so a round's
   * dumps die young.
   */
  lastState: string;
  lastFrames: readonly Frame[];
  lastLocks: readonly LockLine[];
  lastFacts: StackFacts;
  cls: ThreadClass;
}

export interface PoolState {
  name: string;
  family: PoolMembership['family'];
  tracks: number[];
  queuedLast?: number;
  /** Capacity the process declared (rollcall's pools section) or a rule gave. */
  declaredSize?: number;
  /** Its threads wait for work on a hand-off queue, or a rule says so: it makes threads on demand. */
  unbounded: boolean;
  /** Services seen dispatched by its threads, with how many (thread, round) sightings. */
  serves: Map<string, number>;
}

export interface NodeState {
  index: number;
  name: string;
  roles: Set<string>;
  addrs: Set<string>;
  ports: Set<number>;
  peers: Set<string>;
  ids: Map<string, number>;
  /** Global rounds this node has a dump in, ascending. */
  rounds: number[];
  threadsPerSample: number[];
  format: string;
  unparsedLines: number;
  pools: Map<string, PoolState>;
  rolesInferred: boolean;
}

/** A blocking call to a service, resolved once every sample has shown who serves what. */
export interface ServiceCall {
  from: number;
  call: CallSite;
  /** `"name" at frame` lines of the caller. */
  evidence: string[];
  /** What the rule packs said, for when no dump shows the service served. */
  fallback?: WaitSpec;
}

export interface JvmReport {
  node: number;
  tracks: number[];
  kind: 'java-monitor' | 'java-lock';
  steps: CycleStepOut[];
}

/** The waits of one round: resolved ones, and calls resolved at the end. */
export interface RoundWaits {
  specs: WaitSpec[];
  calls: ServiceCall[];
}

/** Shared state of one analysis. */
export class AnalysisState {
  readonly nodes: NodeState[] = [];
  readonly nodeByName = new Map<string, NodeState>();
  readonly tracks: Track[] = [];
  readonly rounds: RoundWaits[] = [];
  readonly jvmReports = new Map<string, JvmReport>();
  readonly notes = new Set<string>();
  minTime = Infinity;
  maxTime = -Infinity;
  private readonly aliases = new Map<string, string>();
  readonly canon = (name: string): string => this.aliases.get(name) ?? name;

  get roundCount(): number {
    return this.rounds.length;
  }

  alias(dumpName: string, node: string): void {
    if (dumpName.length > 0 && dumpName !== node && this.aliases.size < MAX_NODES) this.aliases.set(dumpName, node);
  }

  time(ms: number): void {
    if (!Number.isFinite(ms)) return;
    if (ms < this.minTime) this.minTime = ms;
    if (ms > this.maxTime) this.maxTime = ms;
  }

  node(name: string): NodeState {
    let n = this.nodeByName.get(name);
    if (n === undefined) {
      if (this.nodes.length >= MAX_NODES) throw new RangeError(`more than ${MAX_NODES} nodes`);
      n = {
        index: this.nodes.length,
        name,
        roles: new Set(),
        addrs: new Set(),
        ports: new Set(),
        peers: new Set(),
        ids: new Map(),
        rounds: [],
        threadsPerSample: [],
        format: '',
        unparsedLines: 0,
        pools: new Map(),
        rolesInferred: false,
      };
      this.nodes.push(n);
      this.nodeByName.set(name, n);
    }
    return n;
  }

  /** Whether a node has a dump in round r (its rounds are ascending). */
  presentIn(n: NodeState, r: number): boolean {
    const rs = n.rounds;
    let lo = 0;
    let hi = rs.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const x = rs[mid]!;
      if (x === r) return true;
      if (x < r) lo = mid + 1;
      else hi = mid - 1;
    }
    return false;
  }

  /** `node/thread` for messages. */
  threadName(ref: number): string {
    const tr = this.tracks[ref]!;
    return `${this.nodes[tr.node]!.name}/${tr.name}`;
  }
}

export type { WaitSpec, WaitTarget };
