// A WAL load generator: appends entries at a steady rate and syncs after each batch, like the
// write traffic a region server's handlers produce. Used to show that rolls lose no entry.
import type { Clock, TimerHandle } from '../substrate/types.js';
import type { LogicalThread, ThreadRegistry } from '../threads/index.js';
import { assert } from '../util/assert.js';
import { io } from './io.js';
import { utf8 } from './records.js';
import type { Wal } from './wal.js';

const TICK_MS = 10;
/** Bound on entries per tick, so a long stall cannot turn into one huge burst. */
const MAX_BATCH = 10_000;
const FRAME = 'rollcall.regionserver.wal.LoadGenerator.run';

export class WalLoadGenerator {
  private stopped = false;
  private writtenValue = 0;
  private timer: TimerHandle | undefined;
  private wake: (() => void) | undefined;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly wal: () => Wal,
    private readonly threads: ThreadRegistry,
    private readonly clock: Clock,
    private readonly ratePerSec: number,
    private readonly node: string,
  ) {
    assert(ratePerSec > 0, 'load generator rate must be positive');
  }

  /** Entries appended (each one durable once stop() returned or the WAL synced). */
  get written(): number {
    return this.writtenValue;
  }

  start(): void {
    assert(!this.loop, 'load generator already started');
    this.loop = this.threads.withThread(`${this.node}.wal-load-generator`, FRAME, (t) => this.run(t));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    this.wake?.();
    await this.loop?.catch(() => {});
  }

  private async run(thread: LogicalThread): Promise<void> {
    let carry = 0;
    let last = this.clock.nowMs();
    let seq = 0;
    while (!this.stopped) {
      await thread.waitOn(
        { kind: 'timer', untilMs: this.clock.nowMs() + TICK_MS, reason: 'wal-load-generator-tick' },
        new Promise<void>((resolve) => {
          this.wake = resolve;
          this.timer = this.clock.setTimer(TICK_MS, resolve);
        }),
      );
      const now = this.clock.nowMs();
      carry += (this.ratePerSec * (now - last)) / 1000;
      last = now;
      const n = Math.min(MAX_BATCH, Math.floor(carry));
      carry -= n;
      if (n === 0) continue;
      const wal = this.wal();
      const batch: Uint8Array[] = [];
      for (let i = 0; i < n; i++) batch.push(utf8(`${this.node} ${++seq}`));
      await io(thread, 'wal append', wal.appendBatch(batch));
      this.writtenValue += n;
      await wal.sync(thread);
    }
  }
}
