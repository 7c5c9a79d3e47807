// Work that must happen however this process ends (a command's return, process.exit on a closed
// pipe, an error no one caught): synchronous, since 'exit' handlers cannot wait.
const hooks: (() => void)[] = [];
let installed = false;

/** Runs `fn` when the process exits; each hook runs even if an earlier one throws. */
export function atExit(fn: () => void): void {
  hooks.push(fn);
  if (installed) return;
  installed = true;
  process.on('exit', () => {
    for (const h of hooks) {
      try {
        h();
      } catch {
        // Exiting anyway: one failed cleanup must not skip the others.
      }
    }
  });
}
