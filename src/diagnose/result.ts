// The analysis result: the JSON contract of `rollcall analyze --json` (field names are fixed), plus
// what a renderer needs to draw it — the wait-for graph of the last round, a node × sample heatmap
// and every thread's stack in every sample (in `detail`, only when asked for: it is large).

import type { HotThread } from './hot-threads.js';

export type Verdict = 'deadlock' | 'stuck' | 'slow' | 'healthy';

/** Per thread, over the whole span. */
export type ThreadClass = 'blocked' | 'running-stuck' | 'progressing' | 'idle';

export type DeadlockKind = 'java-monitor' | 'java-lock' | 'pool-starvation' | 'distributed';

export interface SampleCounts {
  total: number;
  idle: number;
  progressing: number;
  blocked: number;
  runningStuck: number;
}

export interface NodeSummary {
  name: string;
  /** Threads in each of this node's samples, in order. */
  threadsPerSample: number[];
  blocked: number;
  progressing: number;
  idle: number;
  runningStuck: number;
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
  /** Handlers classified blocked (same waiting stack over the span). */
  blocked: number;
  progressing: number;
  /** Every handler non-idle in every sample, and none progressing. */
  exhausted: boolean;
  /** Some sample had no idle handler. */
  saturated: boolean;
  family: string;
  perSample: { size: number; busy: number; idle: number }[];
  /** rollcall pools: calls waiting in the pool's queues in the last sample. */
  queued?: number;
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

export interface CycleStepOut {
  node: string;
  thread?: string;
  pool?: string;
  /** What this vertex waits for: `node/thread` or `node/pool`. */
  waitsFor: string;
  /** The edge: `waiting to lock <0x…> held by "…"`, `rpc checkRoll → master (…)`. */
  via: string;
  evidence: string[];
}

export interface DeadlockOut {
  kind: DeadlockKind;
  nodes: string[];
  /** One simple cycle through the deadlocked set, readable as a chain. */
  cycle: CycleStepOut[];
  /** Every thread and pool of the strongly connected set (`node/name`), bounded. */
  members: string[];
  memberCount: number;
  /** Threads (and pools) not in the cycle but waiting on it, bounded. */
  blockedBehind: string[];
  blockedBehindCount: number;
  /** The JVM printed this deadlock in its own section. */
  jvmReported: boolean;
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
  threads: { total: number; blocked: number; runningStuck: number; progressing: number; idle: number };
  pools: PoolSummary[];
  stuck: StuckThread[];
  stuckTotal: number;
  deadlocks: DeadlockOut[];
  /** One line on why the verdict is what it is. */
  reason: string;
  /** Caveats: one sample only, threads missing in some samples, inputs with unparsed lines… */
  notes: string[];
  /** The threads that used the most CPU between their first and last sample (hot-threads.ts). */
  hotThreads?: HotThread[];
  detail?: AnalysisDetail;
}
