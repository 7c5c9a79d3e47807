// A simulated run fails loudly: anything that is not a protocol outcome (ok, timeout, aborted) is a
// crash of the run — an assertion that failed or a programming error in node code (even one the
// protocol caught and turned into an abort), a promise rejection nobody handled, a callback that
// threw, a broken invariant, a world that stalled or ran past its bounds. The crash carries what
// is needed to replay it; the CLI prints the replay command and exits non-zero.
import { SimCallbackError, SimLimitError, type SimWorld } from '../substrate/sim/index.js';
import { onBug, AssertionError } from '../util/assert.js';

export type CrashKind = 'assertion' | 'exception' | 'unhandled-rejection' | 'invariant' | 'stall' | 'limit';

/** Which cluster of a sweep crashed: with the seed and the faults, all a replay needs. */
export interface CrashPoint {
  nodes: number;
  mode: string;
  handlers: number;
  seed: number;
}

export class SimCrash extends Error {
  override name = 'SimCrash';
  /** Set by the sweep: the cluster that crashed, and the results of the clusters before it. */
  point?: CrashPoint;
  before?: readonly unknown[];
  constructor(
    readonly kind: CrashKind,
    message: string,
    /** Virtual time of the crash. */
    readonly atMs: number,
    /** The stack or the evidence, for --verbose and JSON; never the one-line message. */
    readonly detail?: string,
  ) {
    super(message);
  }
}

/** The first line of a message: crash reports are one line each. */
export function firstLine(text: string): string {
  const i = text.indexOf('\n');
  return i < 0 ? text : text.slice(0, i);
}

/** Turns what a simulated world threw into a crash (or rethrows what is not the simulator's). */
export function crashFrom(err: unknown, atMs: number): SimCrash {
  if (err instanceof SimCrash) return err;
  if (err instanceof SimLimitError) return new SimCrash('limit', err.message, atMs);
  if (err instanceof SimCallbackError) {
    const cause = err.cause;
    const kind: CrashKind = cause instanceof AssertionError ? 'assertion' : 'exception';
    const e = cause instanceof Error ? cause : new Error(String(cause));
    return new SimCrash(kind, `${e.name}: ${firstLine(e.message)} (thrown by an event callback)`, atMs, e.stack);
  }
  const e = err instanceof Error ? err : new Error(String(err));
  const kind: CrashKind = e instanceof AssertionError ? 'assertion' : 'exception';
  return new SimCrash(kind, `${e.name}: ${firstLine(e.message)}`, atMs, e.stack);
}

/**
 * Runs `world` until `until` settles (or runs `until()`, for runs that may end idle); throws a
 * SimCrash when it stalled (no events left while `stalled` still waits), passed a limit, or met a bug.
 */
export async function driveWorld(
  world: SimWorld,
  crashes: CrashWatch,
  until: Promise<unknown> | (() => Promise<unknown>),
  stalled: string,
): Promise<void> {
  let status: unknown;
  try {
    status = typeof until === 'function' ? await until() : await world.run(until);
  } catch (err) {
    throw crashFrom(err, world.nowMs);
  }
  if (status === 'idle' && typeof until !== 'function') {
    throw new SimCrash(
      'stall',
      `simulation stalled at virtual ${world.nowMs.toFixed(3)} ms: no events left and ${stalled} (a hang no timer can break)`,
      world.nowMs,
    );
  }
  crashes.check();
}

/**
 * Watches one simulated run for bugs: assertion failures and programming errors reported as they
 * happen (util/assert.ts), and promise rejections nobody handled. The first one is kept; the
 * driver checks after every event and ends the run with it.
 */
export class CrashWatch {
  private firstCrash: SimCrash | undefined;
  private readonly unsubscribe: () => void;
  private readonly onRejection = (reason: unknown): void => {
    const e = reason instanceof Error ? reason : new Error(String(reason));
    this.note(
      new SimCrash(
        'unhandled-rejection',
        `unhandled promise rejection in node code: ${e.name}: ${firstLine(e.message)}`,
        this.nowMs(),
        e.stack,
      ),
    );
  };

  constructor(private readonly nowMs: () => number) {
    this.unsubscribe = onBug((e) => {
      const kind: CrashKind = e instanceof AssertionError ? 'assertion' : 'exception';
      this.note(new SimCrash(kind, `${e.name}: ${firstLine(e.message)}`, this.nowMs(), e.stack));
    });
    process.on('unhandledRejection', this.onRejection);
  }

  get crash(): SimCrash | undefined {
    return this.firstCrash;
  }

  /** Throws the first crash seen, if any (the scheduler's afterEvent calls this). */
  check(): void {
    if (this.firstCrash) throw this.firstCrash;
  }

  note(crash: SimCrash): void {
    this.firstCrash ??= crash;
  }

  close(): void {
    this.unsubscribe();
    process.off('unhandledRejection', this.onRejection);
  }
}
