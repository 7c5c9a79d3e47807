// Online deadlock detection: every interval, collect every node's live wait state (over the admin
// listeners in a real cluster, straight from the registries in simulation), run the same liveness
// computation as `rollcall analyze`, and abort the running procedure once the same circular wait
// is seen in two consecutive rounds — long before any timer would end it.
//
// Collection never goes through the RPC pools (they are what is stuck); the caller injects it.
import type { DeadlockOut } from '../waitgraph/index.js';
import { OnlineDeadlockDetector } from './online.js';
import type { Clock, TimerHandle } from '../substrate/types.js';
import type { NodeDump } from '../threads/types.js';
import { assert } from '../util/assert.js';
import { withTimeout } from '../util/timeout.js';

export interface DetectorOptions {
  clock: Clock;
  /** Dumps of every node, taken as close together as possible. */
  collect: () => Promise<NodeDump[]>;
  /** Ends the running procedure with this error; returns false when nothing was running. */
  abort: (error: string, cycle: DeadlockOut) => boolean;
  intervalMs?: number;
  /** Rounds in a row that must show the same cycle (2: a single snapshot could catch a transient wait). */
  confirmRounds?: number;
  /** Bound on a collection: a slower one is skipped, and the round counts as empty. */
  collectTimeoutMs?: number;
  onRound?: (round: DetectorRound) => void;
}

export interface DetectorRound {
  atMs: number;
  collectMs: number;
  analyzeMs: number;
  nodes: number;
  threads: number;
  cycles: number;
}

export interface Detection {
  /** Since start(): how long the detector needed to prove the deadlock. */
  detectedAfterMs: number;
  cycle: DeadlockOut;
  /** The error handed to abort(). */
  error: string;
  rounds: number;
}

export const DEFAULT_DETECT_INTERVAL_MS = 250;
export const MAX_DETECTOR_ROUNDS = 1_000_000;

export class DeadlockDetector {
  private readonly online = new OnlineDeadlockDetector();
  private timer: TimerHandle | undefined;
  private running = false;
  private startedAtMs = 0;
  private previousKeys = new Map<string, number>();
  private roundCount = 0;
  private detection: Detection | undefined;
  private readonly stats: DetectorRound[] = [];

  constructor(private readonly options: DetectorOptions) {
    assert((options.intervalMs ?? DEFAULT_DETECT_INTERVAL_MS) > 0, 'detector interval must be positive');
  }

  start(): void {
    assert(!this.running, 'detector already running');
    this.running = true;
    this.startedAtMs = this.options.clock.nowMs();
    this.previousKeys.clear();
    this.detection = undefined;
    this.roundCount = 0;
    this.stats.length = 0;
    this.schedule();
  }

  stop(): void {
    this.running = false;
    this.timer?.cancel();
    this.timer = undefined;
  }

  get result(): Detection | undefined {
    return this.detection;
  }

  /** Per-round costs, for the overhead measurement. */
  rounds(): readonly DetectorRound[] {
    return this.stats;
  }

  private schedule(): void {
    if (!this.running) return;
    this.timer = this.options.clock.setTimer(this.options.intervalMs ?? DEFAULT_DETECT_INTERVAL_MS, () => {
      void this.round();
    });
  }

  private async round(): Promise<void> {
    if (!this.running || this.roundCount >= MAX_DETECTOR_ROUNDS) return;
    this.roundCount++;
    const clock = this.options.clock;
    const t0 = clock.nowMs();
    let dumps: NodeDump[] = [];
    try {
      const limitMs = this.options.collectTimeoutMs ?? 5_000;
      dumps = await withTimeout(
        clock,
        limitMs,
        this.options.collect(),
        () => new Error(`collection took over ${limitMs} ms`),
      );
    } catch {
      // A node that does not answer is not evidence of anything: skip the round.
      dumps = [];
    }
    if (!this.running) return;
    const t1 = clock.nowMs();
    const result = dumps.length > 0 ? this.online.check(dumps) : { deadlocks: [], keys: [] };
    const t2 = clock.nowMs();
    this.stats.push({
      atMs: t0 - this.startedAtMs,
      collectMs: t1 - t0,
      analyzeMs: t2 - t1,
      nodes: dumps.length,
      threads: dumps.reduce((n, d) => n + d.threads.length, 0),
      cycles: result.deadlocks.length,
    });
    this.options.onRound?.(this.stats[this.stats.length - 1]!);
    const confirm = this.options.confirmRounds ?? 2;
    const next = new Map<string, number>();
    result.keys.forEach((key, i) => {
      const seen = (this.previousKeys.get(key) ?? 0) + 1;
      next.set(key, seen);
      if (seen >= confirm && this.detection === undefined) {
        const cycle = result.deadlocks[i]!;
        const error = `deadlock detected: ${describe(cycle)}`;
        this.detection = { detectedAfterMs: t2 - this.startedAtMs, cycle, error, rounds: this.roundCount };
        this.options.abort(error, cycle);
      }
    });
    this.previousKeys = next;
    if (this.detection) {
      this.stop();
      return;
    }
    this.schedule();
  }
}

/** `pool-starvation across master, worker-3: master/RpcServer.default… waits for … → …` */
/** A deadlock as the online check describes it (as `rollcall analyze` does). */
export type { DeadlockOut };

export function describe(cycle: DeadlockOut): string {
  const chain = cycle.cycle
    .slice(0, 6)
    .map(
      (s) =>
        `${s.node}${s.thread ? `/${s.thread}` : s.pool ? `/pool ${s.pool}` : ''} (${s.via}) waits for ${s.waitsFor}`,
    )
    .join(' → ');
  const more = cycle.cycle.length > 6 ? ` → … (${cycle.cycle.length} steps)` : '';
  return `${cycle.kind} across ${cycle.nodes.slice(0, 8).join(', ')}${cycle.nodes.length > 8 ? `, … (${cycle.nodes.length} nodes)` : ''}: ${chain}${more}`;
}
