// What a logical thread is doing, in a form that both dumps and the wait-for graph understand.

export type ThreadState = 'RUNNABLE' | 'WAITING' | 'TIMED_WAITING' | 'BLOCKED' | 'IDLE';

// What a thread waits on and the call a handler serves are the wait-for graph's own vocabulary
// (rollcall's explicit links, src/waitgraph/rollcall.ts): one definition for the threads that
// record them, the dumps that carry them and the graph that links them.
import type { ExplicitServing, ExplicitWait, ThreadRef } from '../waitgraph/rollcall.js';

export type { ThreadRef };
export type WaitDescriptor = ExplicitWait;
export type Serving = ExplicitServing;

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
