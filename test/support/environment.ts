// Tests that need a system tool (Java, ZooKeeper, Chromium) skip with a warning on a developer's
// machine that lacks it, but must not skip in CI: .ci/setup-system installs all of them there, so
// a missing tool in CI is a broken setup, and a suite that silently skips would hide it.

/** True when running under CI (the `CI` variable set by CI services and by `CI=true .ci/run`). */
export const inCi = (): boolean => {
  const v = process.env['CI'];
  return v !== undefined && v !== '' && v !== '0' && v.toLowerCase() !== 'false';
};

/**
 * Returns whether a test group can run. When it cannot: outside CI, warns (naming what to
 * install) and returns false so the group is skipped; in CI, throws, failing the test file.
 */
export function requireTool(what: string, available: boolean, why: string): boolean {
  if (available) return true;
  const message = `${what} unavailable: ${why}`;
  if (inCi()) throw new Error(`${message} (under CI these tests must run, not skip)`);
  console.warn(`${message}: tests SKIPPED`);
  return false;
}
