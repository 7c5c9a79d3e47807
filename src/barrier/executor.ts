// A bounded pool of logical threads, after java.util.concurrent.ThreadPoolExecutor as HBase's
// procedure framework configures it: threads are created on demand up to maxThreads and end when
// there is no more work, so an idle pool shows no threads in a dump; with maxQueued 0 the pool has
// SynchronousQueue semantics and refuses a task when every thread is busy.
import type { LogicalThread, ThreadRegistry } from '../threads/index.js';
import { assert, noteIfBug } from '../util/assert.js';
import { Deque } from '../util/deque.js';
import { RejectedExecutionError } from './errors.js';

export type Task = (thread: LogicalThread) => Promise<void>;

export interface ExecutorOptions {
  threads: ThreadRegistry;
  /** Name of the n-th thread this pool creates (n counts from 1 and never repeats). */
  threadName: (n: number) => string;
  /** Pool label shown in dumps. */
  pool: string;
  maxThreads: number;
  /** Tasks that may wait for a thread; 0 rejects a task when all threads are busy. */
  maxQueued: number;
  /** Where a task's uncaught error goes; tasks are expected to handle their own. */
  onError?: (message: string) => void;
}

export const MAX_EXECUTOR_THREADS = 4096;
const WORKER_FRAME = 'rollcall.util.concurrent.ThreadPoolExecutor$Worker.run';

interface Queued {
  frame: string;
  task: Task;
}

export class ThreadPoolExecutor {
  private readonly queue = new Deque<Queued>();
  private active = 0;
  private created = 0;
  private shutdown = false;

  private completed = 0;
  private rejected = 0;

  constructor(private readonly options: ExecutorOptions) {
    assert(
      options.maxThreads >= 1 && options.maxThreads <= MAX_EXECUTOR_THREADS,
      `${options.pool}: maxThreads must be 1..${MAX_EXECUTOR_THREADS}`,
    );
    assert(options.maxQueued >= 0, `${options.pool}: negative queue bound`);
    // Threads exist only while busy, so a dump alone cannot tell this pool's capacity: declare it,
    // or a pool with one running task of ten would read as saturated.
    options.threads.registerPool(options.pool, {
      snapshot: () => ({
        name: options.pool,
        size: options.maxThreads,
        busy: this.active,
        idle: options.maxThreads - this.active,
        queueLengths: [this.queue.length],
        maxQueueLength: options.maxQueued,
        rejected: this.rejected,
        completed: this.completed,
        queued: [],
        queuedTotal: this.queue.length,
      }),
    });
  }

  /** Runs task on a pool thread with `frame` on its stack; throws RejectedExecutionError when full. */
  submit(frame: string, task: Task): void {
    if (this.shutdown) throw new RejectedExecutionError(`${this.options.pool} is shut down`);
    if (this.active < this.options.maxThreads) {
      this.startThread({ frame, task });
      return;
    }
    if (this.queue.length >= this.options.maxQueued) {
      this.rejected++;
      throw new RejectedExecutionError(
        `${this.options.pool} is full: ${this.active} of ${this.options.maxThreads} threads busy, ${this.queue.length} queued`,
      );
    }
    this.queue.push({ frame, task });
  }

  get activeCount(): number {
    return this.active;
  }

  get queuedCount(): number {
    return this.queue.length;
  }

  /** Refuses new tasks; running ones finish on their own (their waits end by their timers). */
  close(): void {
    this.shutdown = true;
  }

  private startThread(first: Queued): void {
    this.active++;
    const thread = this.options.threads.spawn(this.options.threadName(++this.created), { pool: this.options.pool });
    const loop = async (): Promise<void> => {
      let item: Queued | undefined = first;
      while (item) {
        const current: Queued = item;
        try {
          await thread.run(current.frame, () => current.task(thread));
        } catch (err) {
          noteIfBug(err);
          this.options.onError?.(`${thread.name}: ${(err as Error).message}`);
        }
        thread.counters.completed++;
        this.completed++;
        item = this.queue.shift();
      }
    };
    void thread
      .run(WORKER_FRAME, loop)
      .catch((err: unknown) => this.options.onError?.(`${thread.name}: ${(err as Error).message}`))
      .finally(() => {
        this.active--;
        this.options.threads.exit(thread);
      });
  }
}
