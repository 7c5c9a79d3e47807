/** A logger to stderr with a node prefix, or a no-op when quiet. */
export function stderrLog(prefix: string, enabled = true): (message: string) => void {
  if (!enabled) return () => {};
  return (m) => process.stderr.write(`rollcall ${prefix}: ${m}\n`);
}
