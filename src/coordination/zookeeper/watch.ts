// A persistent view of one znode over ZooKeeper's one-shot watches: read with a watch, read again
// when it fires. Reads are serialized (an event during a read marks the view dirty and one more read
// follows), re-armed when a session is replaced (watches die with it), and retried a bounded number
// of times when a read fails. A missing znode is watched for its creation instead.
import type { TimerHandle } from '../../substrate/types.js';
import { noteIfBug } from '../../util/assert.js';
import { isZkError, type ZkSession, type ZkStateChange, type ZkWatcher } from '../../substrate/zookeeper.js';

const RETRY_PAUSE_MS = 250;
/** Failed reads in a row before the view waits for the next reconnection to try again. */
const MAX_FAILED_READS = 20;

export interface ZnodeWatchOptions<T> {
  /** Reads the znode, leaving `watcher` armed on it; null when it does not exist. */
  read: (path: string, watcher: ZkWatcher) => Promise<T | null>;
  /** Receives every read (null while the znode does not exist). */
  handler: (value: T | null) => void | Promise<void>;
  /** Prefix of log lines, e.g. `watch on /members`. */
  label: string;
  log?: (message: string) => void;
  /**
   * Read again after every (re)connection, not only when the session was replaced: for views
   * whose value may have changed while this node was cut off even if its watches survived.
   */
  rereadOnEveryConnect?: boolean;
}

export class ZnodeWatch<T> {
  private running = false;
  private dirty = false;
  private stopped = false;
  private failures = 0;
  private armedGeneration = 0;
  private retryTimer: TimerHandle | undefined;
  private readonly unsubscribe: () => void;
  private readonly watcher: ZkWatcher = () => this.schedule();
  private idle: Promise<void> = Promise.resolve();
  private readonly log: (message: string) => void;

  constructor(
    private readonly session: ZkSession,
    readonly path: string,
    private readonly options: ZnodeWatchOptions<T>,
  ) {
    this.log = options.log ?? (() => {});
    this.unsubscribe = session.onStateChange((c) => this.onState(c));
  }

  /** Reads once (awaiting the handler) and keeps watching. */
  async start(): Promise<void> {
    this.schedule();
    await this.settled();
  }

  /** Resolves when no read is running or pending. */
  async settled(): Promise<void> {
    while (this.running) await this.idle;
  }

  /** Reads again now (e.g. after a change this node made itself and must not wait for the event). */
  schedule(): void {
    if (this.stopped) return;
    if (this.running) {
      this.dirty = true;
      return;
    }
    this.running = true;
    this.idle = this.loop();
  }

  stop(): void {
    this.stopped = true;
    this.retryTimer?.cancel();
    this.unsubscribe();
  }

  private async loop(): Promise<void> {
    try {
      do {
        this.dirty = false;
        await this.readOnce();
      } while (this.dirty && !this.stopped);
    } finally {
      this.running = false;
    }
  }

  private async readOnce(): Promise<void> {
    const generation = this.session.generation;
    let value: T | null;
    try {
      value = await this.options.read(this.path, this.watcher);
      // A missing znode: watch for its creation instead (exists sets that watch).
      if (value === null && (await this.session.exists(this.path, this.watcher)) !== null) this.dirty = true;
    } catch (err) {
      if (this.stopped || isZkError(err, 'CLOSED')) return;
      this.failures++;
      this.log(`${this.options.label}: read failed (${this.failures}): ${(err as Error).message}`);
      if (this.failures < MAX_FAILED_READS && this.session.state === 'connected') {
        this.retryTimer = this.session.clock.setTimer(RETRY_PAUSE_MS, () => this.schedule());
      }
      return;
    }
    this.failures = 0;
    this.armedGeneration = generation;
    if (this.stopped) return;
    try {
      await this.options.handler(value);
    } catch (err) {
      noteIfBug(err);
      this.log(`${this.options.label}: handler failed: ${(err as Error).message}`);
    }
  }

  private onState(change: ZkStateChange): void {
    if (change.state !== 'connected') return;
    // A new session has none of the old one's watches; a failed read left none armed.
    if (this.options.rereadOnEveryConnect || change.generation !== this.armedGeneration || this.failures > 0) {
      this.failures = 0;
      this.schedule();
    }
  }
}

/** Receives the full child list (null while the znode does not exist). */
export type ChildrenHandler = (children: string[] | null) => void | Promise<void>;

/** A persistent view of one znode's children. */
export class ChildWatch extends ZnodeWatch<string[]> {
  constructor(session: ZkSession, path: string, handler: ChildrenHandler, log: (message: string) => void = () => {}) {
    super(session, path, {
      read: (p, w) => session.getChildrenIfPresent(p, w),
      handler,
      label: `watch on ${path}`,
      log,
    });
  }
}
