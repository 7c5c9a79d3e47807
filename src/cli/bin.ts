#!/usr/bin/env node
// The `rollcall` executable. It owns what is process-wide, so no command handles it on its own:
// keeping the process alive while a command works, a reader that closes the pipe, errors that
// escape every command, and handles a finished command left open.
import { startParseWorkersForArgs } from '../dumps/worker-start.js';
import { EXIT_USAGE } from './errors.js';

// Parsing threads boot while the CLI loads (about 60 ms of modules before a command runs).
startParseWorkersForArgs(process.argv.slice(2));
const { describeUnexpected, main } = await import('./main.js');

// Protocol timers are unref'd so that a library user's process (or a test) is never held open by
// rollcall. A command's pending work must hold it, though: without this, a client whose master dies
// has only unref'd timers left (its poll pause, its call deadline), and Node exits 0 mid-command.
const MAX_TIMER_MS = 0x7fffffff;
const keepAlive = setInterval(() => {}, MAX_TIMER_MS);

/** After a command returns, handles still open get this long to close before the process exits anyway. */
const LINGER_MS = 2_000;

function fail(err: unknown): never {
  process.stderr.write(`rollcall: ${describeUnexpected(err)}\n`);
  process.exit(EXIT_USAGE);
}

// `rollcall parse … | head`: the reader is gone, so there is nobody left to tell anything; exit
// quietly as a SIGPIPE'd Unix tool does (temporary data is removed by exit hooks).
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    fail(err);
  });
}
// An error thrown from a callback no command awaits: still one line, never a raw trace.
process.on('uncaughtException', fail);
process.on('unhandledRejection', fail);

main(process.argv)
  .then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`rollcall: ${describeUnexpected(err)}\n`);
      process.exitCode = EXIT_USAGE;
    },
  )
  .finally(() => {
    clearInterval(keepAlive);
    // A stray handle (a socket a library keeps) must not turn a finished command into a hang.
    setTimeout(() => {
      if (debugging()) {
        process.stderr.write(`rollcall: exiting with handles open: ${process.getActiveResourcesInfo().join(', ')}\n`);
      }
      process.exit();
    }, LINGER_MS).unref();
  });

function debugging(): boolean {
  return process.env['ROLLCALL_DEBUG'] === '1';
}
