/** Bad flags or unreadable input: the CLI exits 2 with this message. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** A finding the user asked to fail on (--fail-on): the CLI exits 1 after printing its output. */
export class FindingExit extends Error {
  override name = 'FindingExit';
}

export const EXIT_OK = 0;
export const EXIT_FINDING = 1;
export const EXIT_USAGE = 2;
