import { assert } from '../util/assert.js';
import type { Clock } from '../substrate/types.js';
import { LogicalThread, type WaitObserver } from './thread.js';
import type { NodeDump, PoolSnapshot } from './types.js';

export const ROLLCALL_VERSION = '0.1.0';

/** Bound on threads per node: a leak of logical threads would otherwise grow dumps forever. */
export const MAX_THREADS_PER_NODE = 10_000;

export interface PoolReporter {
  snapshot(): PoolSnapshot;
}

/** All logical threads of one node, and the pools that want to show up in its dumps. */
export class ThreadRegistry {
  private nextId = 1;
  private readonly threads = new Map<number, LogicalThread>();
  private readonly pools = new Map<string, PoolReporter>();
  private readonly observers: WaitObserver[] = [];

  constructor(
    readonly node: string,
    readonly role: string,
    readonly pid: number,
    private readonly clock: Clock,
  ) {}

  spawn(name: string, options: { pool?: string; daemon?: boolean } = {}): LogicalThread {
    assert(this.threads.size < MAX_THREADS_PER_NODE, `node ${this.node}: more than ${MAX_THREADS_PER_NODE} threads`);
    const t = new LogicalThread(
      this.nextId++,
      name,
      options.pool ?? null,
      options.daemon ?? true,
      this.clock.nowMs(),
      this.clock,
      (thread, wait) => {
        for (const o of this.observers) o(thread, wait);
      },
    );
    this.threads.set(t.id, t);
    return t;
  }

  /** Runs fn on a fresh short-lived thread that disappears afterwards (like a JVM task thread). */
  async withThread<T>(name: string, frame: string, fn: (t: LogicalThread) => Promise<T>): Promise<T> {
    const t = this.spawn(name, { daemon: true });
    try {
      return await t.run(frame, () => fn(t));
    } finally {
      this.exit(t);
    }
  }

  exit(thread: LogicalThread): void {
    thread.alive = false;
    this.threads.delete(thread.id);
  }

  get(id: number): LogicalThread | undefined {
    return this.threads.get(id);
  }

  all(): LogicalThread[] {
    return [...this.threads.values()];
  }

  registerPool(name: string, reporter: PoolReporter): void {
    this.pools.set(name, reporter);
  }

  /** Observers see every wait as it starts: the predictor's class-level dependency feed. */
  addWaitObserver(observer: WaitObserver): () => void {
    this.observers.push(observer);
    return () => {
      const i = this.observers.indexOf(observer);
      if (i >= 0) this.observers.splice(i, 1);
    };
  }

  dump(): NodeDump {
    return {
      format: 'rollcall-dump/1',
      node: this.node,
      role: this.role,
      pid: this.pid,
      version: `rollcall ${ROLLCALL_VERSION}`,
      capturedAtMs: this.clock.wallMs(),
      monotonicMs: this.clock.nowMs(),
      threads: [...this.threads.values()].map((t) => t.snapshot()),
      pools: [...this.pools.values()].map((p) => p.snapshot()),
    };
  }
}
