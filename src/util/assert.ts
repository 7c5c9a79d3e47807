// Invariant checks (TIGER_STYLE): fail loudly at the first broken assumption.
//
// Protocol code turns errors into protocol outcomes (a procedure aborts, a watch logs and reads
// again), which is right for a lost connection and wrong for a bug. So a broken assumption is also
// reported the moment it happens, to whoever listens (the simulator does, and ends the run as a
// crash); nothing listens in a real process.

let bugListener: ((error: Error) => void) | null = null;

/** Listens for assertion failures and programming errors as they happen; returns the unsubscribe. */
export function onBug(listener: (error: Error) => void): () => void {
  bugListener = listener;
  return () => {
    if (bugListener === listener) bugListener = null;
  };
}

/** An error that means the code is wrong rather than the world: a failed assertion, a TypeError... */
export function isProgrammingError(err: unknown): err is Error {
  return (
    err instanceof AssertionError ||
    err instanceof TypeError ||
    err instanceof RangeError ||
    err instanceof ReferenceError
  );
}

/** Reports `err` to the bug listener when it is a programming error (call where errors are caught). */
export function noteIfBug(err: unknown): void {
  if (bugListener !== null && isProgrammingError(err) && !(err instanceof AssertionError)) bugListener(err);
}

export class AssertionError extends Error {
  override name = 'AssertionError';
  constructor(message: string) {
    super(message);
    bugListener?.(this);
  }
}

export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new AssertionError(message);
}

export function unreachable(value: never): never {
  throw new AssertionError(`unreachable: ${JSON.stringify(value)}`);
}
