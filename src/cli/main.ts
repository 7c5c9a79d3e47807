// The `rollcall` command. Each subcommand lives in ./commands and registers itself here.
import { Command, CommanderError } from 'commander';
import { ROLLCALL_VERSION } from '../threads/index.js';
import { EXIT_FINDING, EXIT_USAGE, FindingExit, UsageError } from './errors.js';
import { registerCapture } from './commands/capture.js';
import { registerAgent } from './commands/agent.js';
import { registerParse } from './commands/parse.js';
import { registerAnalyze } from './commands/analyze.js';
import { registerRolllog } from './commands/rolllog.js';
import { registerCluster } from './commands/cluster.js';
import { registerNode } from './commands/node.js';
import { registerSimulate } from './commands/simulate.js';
import { registerDemo } from './commands/demo.js';
import { registerVerify } from './commands/verify.js';
import { registerWatch } from './commands/watch.js';

export function buildProgram(): Command {
  const program = new Command('rollcall')
    .description(
      'Coordinated distributed systems: global barriers that stay fast at any cluster size,\nand the tools to prove — or predict — a distributed deadlock.',
    )
    .version(ROLLCALL_VERSION)
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  program.configureHelp({ sortSubcommands: false });
  // Commands register here, in the order --help lists them.
  registerDemo(program);
  registerRolllog(program);
  registerCluster(program);
  registerNode(program);
  registerVerify(program);
  registerSimulate(program);
  registerCapture(program);
  registerAgent(program);
  registerParse(program);
  registerAnalyze(program);
  registerWatch(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  program.commands.forEach(function exitOverrideAll(c: Command): void {
    c.exitOverride();
    c.commands.forEach(exitOverrideAll);
  });
  // Errors name the command they come from: `rollcall rolllog: …`.
  let running = 'rollcall';
  program.hook('preAction', (_program, action) => {
    const names: string[] = [];
    for (let c: Command | null = action; c && c !== program; c = c.parent) names.unshift(c.name());
    running = ['rollcall', ...names].join(' ');
  });
  try {
    await program.parseAsync(argv);
    return process.exitCode === undefined ? 0 : Number(process.exitCode);
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end here with exit code 0.
      return err.exitCode === 0 ? 0 : EXIT_USAGE;
    }
    if (err instanceof UsageError) {
      process.stderr.write(`rollcall: ${err.message}\n`);
      return EXIT_USAGE;
    }
    if (err instanceof FindingExit) return EXIT_FINDING;
    // Anything else is a failure no command expected: one line, the stack only when asked for.
    process.stderr.write(`${running}: ${describeUnexpected(err)}\n`);
    return EXIT_USAGE;
  }
}

/** Longest message printed for an unexpected error (a message can embed a whole input). */
const MAX_MESSAGE_CHARS = 1000;

/** One line for an error no command expected; with ROLLCALL_DEBUG=1, its stack on the lines after. */
export function describeUnexpected(err: unknown): string {
  const e = err instanceof Error ? err : new Error(String(err));
  let message = e.message.replace(/\s+/g, ' ').trim();
  if (message.length > MAX_MESSAGE_CHARS) message = `${message.slice(0, MAX_MESSAGE_CHARS)}…`;
  const kind = e.name && e.name !== 'Error' ? `${e.name}; ` : '';
  if (process.env['ROLLCALL_DEBUG'] === '1') return `${message || e.name}\n${e.stack ?? ''}`;
  return `${message || e.name} (${kind}ROLLCALL_DEBUG=1 shows the stack)`;
}
