// A named handler pool with HBase's FastPathBalancedQueueRpcExecutor semantics:
// idle handlers wait on a stack and take a new call directly; otherwise the call goes to a
// random queue, and handler i serves queue i mod q. A full queue rejects the call.
import { assert } from '../util/assert.js';
import { Deque } from '../util/deque.js';
import type { Clock, Random } from '../substrate/types.js';
import type { LogicalThread, PoolSnapshot, QueuedCall, ThreadRegistry } from '../threads/index.js';
import { MAX_QUEUED_IN_DUMP } from '../threads/index.js';
import { CallQueueTooBigError } from './errors.js';

export interface PoolConfig {
  /** Pool name as in HBase: default, priority, replication, ... */
  name: string;
  handlers: number;
  queues: number;
  /** Per-queue limit; HBase's default is 10 x handlers. */
  maxQueueLength: number;
}

export const MAX_HANDLERS_PER_POOL = 4096;

/** What a pool runs: the server supplies it per call. */
export interface PoolCall extends QueuedCall {
  run(thread: LogicalThread): Promise<void>;
}

interface Handler {
  index: number;
  queueIndex: number;
  thread: LogicalThread;
  busy: boolean;
}

const IDLE_FRAME = 'rollcall.rpc.FastPathRpcHandler.getCallRunner';
const RUN_FRAME = 'rollcall.rpc.RpcHandler.run';

export function handlerThreadName(pool: string, handler: number, queue: number, port: number): string {
  return `RpcServer.${pool}.FPBQ.Fifo.handler=${handler},queue=${queue},port=${port}`;
}

export class HandlerPool {
  private readonly handlers: Handler[] = [];
  private readonly queues: Deque<PoolCall>[] = [];
  private readonly idleStack: Handler[] = [];
  private rejected = 0;
  private completed = 0;

  constructor(
    readonly config: PoolConfig,
    port: number,
    threads: ThreadRegistry,
    private readonly clock: Clock,
    private readonly random: Random,
    private readonly onError: (message: string) => void,
  ) {
    assert(config.handlers >= 1 && config.handlers <= MAX_HANDLERS_PER_POOL, `pool ${config.name}: bad handler count`);
    assert(config.queues >= 1 && config.queues <= config.handlers, `pool ${config.name}: queues must be 1..handlers`);
    assert(config.maxQueueLength >= 0, `pool ${config.name}: negative queue limit`);
    for (let q = 0; q < config.queues; q++) this.queues.push(new Deque());
    for (let i = 0; i < config.handlers; i++) {
      const queueIndex = i % config.queues;
      const thread = threads.spawn(handlerThreadName(config.name, i, queueIndex, port), { pool: config.name });
      thread.enter(RUN_FRAME);
      thread.enter(IDLE_FRAME);
      thread.setIdle();
      const h: Handler = { index: i, queueIndex, thread, busy: false };
      this.handlers.push(h);
    }
    // Stack order: handler 0 on top, so a quiet server uses the lowest-numbered handlers.
    for (let i = config.handlers - 1; i >= 0; i--) this.idleStack.push(this.handlers[i]!);
    threads.registerPool(config.name, this);
  }

  /** Hands the call to an idle handler, or queues it; throws CallQueueTooBig when full. */
  dispatch(call: PoolCall): void {
    const idle = this.idleStack.pop();
    if (idle) {
      this.serve(idle, call);
      return;
    }
    const q = this.config.queues === 1 ? 0 : Math.floor(this.random.next() * this.config.queues);
    const queue = this.queues[q]!;
    if (queue.length >= this.config.maxQueueLength) {
      this.rejected++;
      throw new CallQueueTooBigError(
        `Call queue is full on ${this.config.name} pool queue ${q}, too many items queued (${queue.length} >= ${this.config.maxQueueLength})`,
      );
    }
    call.queue = q;
    queue.push(call);
  }

  get busyCount(): number {
    return this.handlers.length - this.idleStack.length;
  }

  snapshot(): PoolSnapshot {
    const queued: QueuedCall[] = [];
    let queuedTotal = 0;
    for (const q of this.queues) {
      queuedTotal += q.length;
      for (const c of q) {
        if (queued.length >= MAX_QUEUED_IN_DUMP) break;
        queued.push({
          callId: c.callId,
          method: c.method,
          callerNode: c.callerNode,
          callerThreadId: c.callerThreadId,
          queue: c.queue,
          enqueuedAtMs: c.enqueuedAtMs,
        });
      }
    }
    return {
      name: this.config.name,
      size: this.handlers.length,
      busy: this.busyCount,
      idle: this.idleStack.length,
      queueLengths: this.queues.map((q) => q.length),
      maxQueueLength: this.config.maxQueueLength,
      rejected: this.rejected,
      completed: this.completed,
      queued,
      queuedTotal,
    };
  }

  /** Runs calls on h until its queue is empty, then parks it on the idle stack. */
  private serve(h: Handler, first: PoolCall): void {
    assert(!h.busy, `handler ${h.thread.name} dispatched while busy`);
    h.busy = true;
    h.thread.leave(IDLE_FRAME);
    h.thread.setRunnable();
    const loop = async (): Promise<void> => {
      let call: PoolCall | undefined = first;
      while (call) {
        try {
          await call.run(h.thread);
        } catch (err) {
          // run() reports handler errors to the caller itself; reaching here is a server bug.
          this.onError(`handler ${h.thread.name}: ${(err as Error).message}`);
        }
        this.completed++;
        h.thread.counters.completed++;
        call = this.queues[h.queueIndex]!.shift();
      }
      h.busy = false;
      h.thread.enter(IDLE_FRAME);
      h.thread.setIdle();
      this.idleStack.push(h);
    };
    void loop();
  }

  /** Time a queued call has waited, for metrics. */
  oldestQueuedMs(): number {
    let oldest = Infinity;
    for (const q of this.queues) for (const c of q) oldest = Math.min(oldest, c.enqueuedAtMs);
    return oldest === Infinity ? 0 : this.clock.nowMs() - oldest;
  }
}
