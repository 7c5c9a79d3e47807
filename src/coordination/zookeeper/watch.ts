// A persistent view of one znode's children over ZooKeeper's one-shot watches: list with a watch,
// re-list when it fires. Listings are serialized (an event during a listing marks the view dirty
// and one more listing follows), re-armed when a session is replaced (watches die with it), and
// retried a bounded number of times when a listing fails.
import { isZkError, type ZkSession, type ZkStateChange, type ZkWatcher } from './session.js';

/** Receives the full child list (null while the znode does not exist). */
export type ChildrenHandler = (children: string[] | null) => void | Promise<void>;

const RETRY_PAUSE_MS = 250;
/** Failed listings in a row before the view waits for the next reconnection to try again. */
const MAX_FAILED_LISTINGS = 20;

export class ChildWatch {
  private running = false;
  private dirty = false;
  private stopped = false;
  private failures = 0;
  private armedGeneration = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly unsubscribe: () => void;
  private readonly watcher: ZkWatcher = () => this.schedule();
  private idle: Promise<void> = Promise.resolve();

  constructor(
    private readonly session: ZkSession,
    readonly path: string,
    private readonly handler: ChildrenHandler,
    private readonly log: (message: string) => void = () => {},
  ) {
    this.unsubscribe = session.onStateChange((c) => this.onState(c));
  }

  /** Lists once (awaiting the handler) and keeps watching. */
  async start(): Promise<void> {
    this.schedule();
    await this.settled();
  }

  /** Resolves when no listing is running or pending. */
  async settled(): Promise<void> {
    while (this.running) await this.idle;
  }

  /** Lists again now (e.g. after a change this node made itself and must not wait for the event). */
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
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.unsubscribe();
  }

  private async loop(): Promise<void> {
    try {
      do {
        this.dirty = false;
        await this.listOnce();
      } while (this.dirty && !this.stopped);
    } finally {
      this.running = false;
    }
  }

  private async listOnce(): Promise<void> {
    const generation = this.session.generation;
    let children: string[] | null;
    try {
      children = await this.session.getChildrenIfPresent(this.path, this.watcher);
      // A missing znode: watch for its creation instead (exists sets that watch).
      if (children === null && (await this.session.exists(this.path, this.watcher)) !== null) this.dirty = true;
    } catch (err) {
      if (this.stopped || isZkError(err, 'CLOSED')) return;
      this.failures++;
      this.log(`watch on ${this.path}: listing failed (${this.failures}): ${(err as Error).message}`);
      if (this.failures < MAX_FAILED_LISTINGS && this.session.state === 'connected') {
        this.retryTimer = setTimeout(() => this.schedule(), RETRY_PAUSE_MS);
        this.retryTimer.unref();
      }
      return;
    }
    this.failures = 0;
    this.armedGeneration = generation;
    if (this.stopped) return;
    try {
      await this.handler(children);
    } catch (err) {
      this.log(`watch on ${this.path}: handler failed: ${(err as Error).message}`);
    }
  }

  private onState(change: ZkStateChange): void {
    if (change.state !== 'connected') return;
    // A new session has none of the old one's watches; a failed listing left none armed.
    if (change.generation !== this.armedGeneration || this.failures > 0) {
      this.failures = 0;
      this.schedule();
    }
  }
}
