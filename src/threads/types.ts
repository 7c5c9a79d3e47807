// What a logical thread is doing, in a form that both dumps and the wait-for graph understand.

export type ThreadState = 'RUNNABLE' | 'WAITING' | 'TIMED_WAITING' | 'BLOCKED' | 'IDLE';

/** A reference to a thread on some node: the end of a cross-node wait-for edge. */
export interface ThreadRef {
  node: string;
  threadId: number;
}

export type WaitDescriptor =
  /** Blocked in a synchronous RPC: the serving handler on `target` links back through callId. */
  | { kind: 'rpc'; target: string; targetAddr?: string; method: string; callId: number; deadlineMs: number }
  /** A coordinator or member waiting at a barrier for the members still missing. */
  | {
      kind: 'barrier';
      procedure: string;
      instance: string;
      phase: 'acquired' | 'reached' | 'completed';
      missing: string[];
      deadlineMs?: number;
    }
  /** Waiting for a slot or an item in a bounded queue owned by `owner` (a pool or a node). */
  | { kind: 'queue'; queue: string; owner?: string }
  | { kind: 'lock'; lock: string; owner?: ThreadRef }
  /** A timed sleep: not a wait on anything else. */
  | { kind: 'timer'; untilMs: number; reason: string }
  /** Waiting for a local asynchronous result (disk I/O, a child task). */
  | { kind: 'io'; what: string };

export interface Serving {
  callerNode: string;
  callerThreadId: number;
  callId: number;
  method: string;
  sinceMs: number;
}

export interface ThreadCounters {
  /** Rises with every frame entered or left and every state change: progress. */
  steps: number;
  /** Units of work finished (calls served, tasks run). */
  completed: number;
  /** Number of waits entered (cf. the JVM's Waited count). */
  waited: number;
  /** Number of lock waits (cf. Blocked count). */
  blocked: number;
}

export interface ThreadSnapshot {
  id: number;
  name: string;
  pool: string | null;
  daemon: boolean;
  state: ThreadState;
  /** Innermost frame first, as in jstack. */
  frames: string[];
  wait: (WaitDescriptor & { sinceMs: number }) | null;
  serving: Serving | null;
  counters: ThreadCounters;
  startedAtMs: number;
}

export interface QueuedCall {
  callId: number;
  method: string;
  callerNode: string;
  callerThreadId: number;
  queue: number;
  enqueuedAtMs: number;
}

export interface PoolSnapshot {
  name: string;
  size: number;
  busy: number;
  idle: number;
  queueLengths: number[];
  maxQueueLength: number;
  rejected: number;
  completed: number;
  /** Up to MAX_QUEUED_IN_DUMP queued calls, oldest first; queuedTotal has the real count. */
  queued: QueuedCall[];
  queuedTotal: number;
}

export const MAX_QUEUED_IN_DUMP = 1000;

export interface NodeDump {
  format: 'rollcall-dump/1';
  node: string;
  role: string;
  pid: number;
  version: string;
  capturedAtMs: number;
  monotonicMs: number;
  threads: ThreadSnapshot[];
  pools: PoolSnapshot[];
}
