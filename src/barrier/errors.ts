// Errors of the barrier framework. A ForeignException (HBase's name) is an error that may cross
// node boundaries: it always names the node where it started, so an aborted procedure tells the
// operator which member failed, not just that something did.
import { CallTimeoutError } from '../rpc/index.js';
import { noteIfBug } from '../util/assert.js';

/** The serialized form of a ForeignException, as it travels in RPC messages or znodes. */
export interface ForeignExceptionWire {
  source: string;
  message: string;
  timeout: boolean;
}

export class ForeignException extends Error {
  /**
   * @param source node (member or coordinator) where the error started
   * @param reason what went wrong there, without the source prefix
   * @param timeout whether a timer, not a failure, ended the work (reports classify on this)
   * @param remote whether this copy arrived from another node (it is then never re-sent)
   */
  constructor(
    readonly source: string,
    readonly reason: string,
    readonly timeout = false,
    readonly remote = false,
  ) {
    super(`${source}: ${reason}`);
    // The name crosses the wire as the remote error type; clients classify timeouts by it.
    this.name = timeout ? 'TimeoutException' : 'ForeignException';
  }

  toWire(): ForeignExceptionWire {
    return { source: this.source, message: this.reason, timeout: this.timeout };
  }

  static fromWire(w: ForeignExceptionWire): ForeignException {
    return new ForeignException(w.source, w.message, w.timeout, true);
  }

  /** Wraps any error raised at `source`; a ForeignException keeps its own source. */
  static wrap(source: string, err: unknown): ForeignException {
    if (err instanceof ForeignException) return err;
    // A bug turned into an abort here would pass for a protocol outcome; report it as what it is.
    noteIfBug(err);
    const e = err instanceof Error ? err : new Error(String(err));
    return new ForeignException(source, e.message, isTimeout(e));
  }
}

/** True for errors that a timer produced: an RPC deadline or a procedure timer. */
export function isTimeout(err: unknown): boolean {
  if (err instanceof ForeignException) return err.timeout;
  if (err instanceof CallTimeoutError) return true;
  return err instanceof Error && (err.name === 'TimeoutException' || err.name === 'CallTimeoutException');
}

export function isForeignExceptionWire(v: unknown): v is ForeignExceptionWire {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as Record<string, unknown>;
  return typeof o.source === 'string' && typeof o.message === 'string' && typeof o.timeout === 'boolean';
}

/** A procedure could not start: one of that name is running, or the pool is full. */
export class ProcedureRejectedError extends Error {
  override name = 'ProcedureRejectedException';
}

/** A bounded executor refused a task (Java's RejectedExecutionException). */
export class RejectedExecutionError extends Error {
  override name = 'RejectedExecutionException';
}
