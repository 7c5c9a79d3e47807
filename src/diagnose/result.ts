// The analysis result: the JSON contract of `rollcall analyze --json` (field names are fixed), plus
// what a renderer needs to draw it — the wait-for graph of the last round, a node × sample heatmap
// and every thread's stack in every sample (in `detail`, only when asked for: it is large).
import type { CycleStepOut, DeadlockKind, DeadlockOut, LatentDeadlockPrediction } from '../waitgraph/index.js';

export type { CycleStepOut, DeadlockKind, DeadlockOut };
/** `--predict`: a latent deadlock (the shape `rollcall rolllog --predict` gives too). */
export type Prediction = LatentDeadlockPrediction;

import type { HotThread } from './hot-threads.js';

export type Verdict = 'deadlock' | 'stuck' | 'slow' | 'healthy';

/**
 * Per thread, over the whole span.
 * - blocked: parked or blocked in every sample on something that should already have happened —
 *   a lock another thread owns, an outbound call, a barrier or latch in a wait-for chain, a full
 *   pool. Stuck.
 * - running-stuck: RUNNABLE in the same place in every sample, with no CPU progress where known.
 * - waiting: parked in every sample with no such evidence — a queue, a timer, a lifecycle join or
 *   latch, an accept loop. Not stuck; never in the stuck list or the verdict.
 * - progressing: its stack, state, lock or counters changed.
 * - idle: waiting for work (a pool worker on its queue, a selector) in every sample.
 */
export type ThreadClass = 'blocked' | 'running-stuck' | 'waiting' | 'progressing' | 'idle';

export interface SampleCounts {
  total: number;
  idle: number;
  progressing: number;
  blocked: number;
  runningStuck: number;
  waiting: number;
}

export interface NodeSummary {
  name: string;
  /** Threads in each of this node's samples, in order. */
  threadsPerSample: number[];
  blocked: number;
  progressing: number;
  idle: number;
  runningStuck: number;
  waiting: number;
  /** Rounds (global sample indexes) this node has a dump in. */
  rounds: number[];
  roles: string[];
  format: string;
  /** Per sample: threads by class (a thread idle in that sample counts idle) — the heatmap row. */
  samples: SampleCounts[];
  /** Lines the parser did not understand, summed over the node's dumps. */
  unparsedLines: number;
}

export interface PoolSummary {
  node: string;
  pool: string;
  /** Handlers in the last sample. */
  size: number;
  /** Non-idle handlers in the last sample. */
  busy: number;
  idle: number;
  /** Handlers classified blocked (same waiting stack over the span, with evidence). */
  blocked: number;
  progressing: number;
  /** Handlers parked over the span on something nothing links to. */
  waiting: number;
  /**
   * Every handler non-idle in every sample, none progressing or merely waiting, and the pool bounded
   * (a pool that makes threads on demand never runs out).
   */
  exhausted: boolean;
  /** Some sample had no idle handler. */
  saturated: boolean;
  family: string;
  perSample: { size: number; busy: number; idle: number }[];
  /** rollcall pools: calls waiting in the pool's queues in the last sample. */
  queued?: number;
  /** Capacity a rule or the process declared. */
  capacity?: number;
  /** Makes a thread per task (idle threads on a hand-off queue, or a rule): never exhausted. */
  unbounded?: boolean;
  /** Services its threads were seen dispatching. */
  serves?: string[];
}

export interface WaitingThread {
  node: string;
  thread: string;
  /** Innermost frame past the waiting machinery. */
  frame: string;
  samples: number;
  javaState: string;
  pool?: string;
}

/** `--explain NODE/THREAD`: why a thread has its class. */
export interface ThreadExplanation {
  node: string;
  thread: string;
  class: ThreadClass;
  /** One line each: what was seen, what it waits for, what that waits for. */
  evidence: string[];
}

export interface StuckThread {
  node: string;
  thread: string;
  state: Extract<ThreadClass, 'blocked' | 'running-stuck'>;
  /** Innermost frame. */
  frame: string;
  /** Samples the thread was seen in (all with the same stack). */
  samples: number;
  /** The JVM's state line, e.g. `WAITING (parking)`. */
  javaState: string;
  pool?: string;
}

export interface GraphVertexOut {
  id: number;
  kind: 'thread' | 'pool' | 'queue' | 'group' | 'external';
  node: string;
  label: string;
  status: 'progressing' | 'idle' | 'waiting' | 'unknown';
  live: boolean;
  /** Non-live in every sample. */
  deadlocked: boolean;
  pool?: string;
  /** Index into detail.threads for thread vertices. */
  thread?: number;
}

export interface GraphEdgeOut {
  from: number;
  to: number;
  kind: string;
  label: string;
  evidence: string[];
  inCycle: boolean;
}

export interface ThreadDetail {
  node: string;
  name: string;
  javaId?: number;
  pool?: string;
  class: ThreadClass;
  /** One entry per global round: null when the thread is absent from that round. */
  samples: ({ state: string; idle: boolean; stack: number } | null)[];
}

export interface AnalysisDetail {
  /** Frames of each distinct stack (innermost first), referenced by ThreadDetail.samples[].stack. */
  stacks: string[][];
  threads: ThreadDetail[];
  /**
   * The wait-for graph of the last round, limited to vertices that wait or are waited on
   * (idle workers nobody waits for are left out); `truncated` when it was cut at the bound.
   */
  graph: { vertices: GraphVertexOut[]; edges: GraphEdgeOut[]; truncated: boolean };
}

export interface AnalysisResult {
  verdict: Verdict;
  /** Rounds (aligned samples). */
  samples: number;
  /** From the first to the last capture, when the dumps carry times; 0 otherwise. */
  spanMs: number;
  nodes: NodeSummary[];
  threads: { total: number; blocked: number; runningStuck: number; waiting: number; progressing: number; idle: number };
  pools: PoolSummary[];
  stuck: StuckThread[];
  stuckTotal: number;
  /** Threads parked over the span with nothing linking their wait to anything (not stuck), bounded. */
  waiting: WaitingThread[];
  waitingTotal: number;
  /** The threads asked for with --explain. */
  explanations?: ThreadExplanation[];
  deadlocks: DeadlockOut[];
  /** One line on why the verdict is what it is. */
  reason: string;
  /** `--predict`: latent deadlocks the observed waits predict, soonest first (absent without --predict). */
  predictions?: Prediction[];
  /** Caveats: one sample only, threads missing in some samples, inputs with unparsed lines… */
  notes: string[];
  /** The threads that used the most CPU between their first and last sample (hot-threads.ts). */
  hotThreads?: HotThread[];
  detail?: AnalysisDetail;
}
