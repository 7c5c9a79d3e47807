// The `rollcall` command. Each subcommand lives in ./commands and registers itself here. A
// command's module (and what it imports: charts, graph layout, the ZooKeeper client) loads only
// when that command runs, so `rollcall --version` or `rollcall analyze --help` start at once.
import { Command, CommanderError } from 'commander';
import { ROLLCALL_VERSION } from '../threads/registry.js';
import { EXIT_FINDING, EXIT_USAGE, FindingExit, UsageError } from './errors.js';

type Register = (program: Command) => void;

/** Every command, in the order --help lists them. */
const COMMANDS: readonly { name: string; load: () => Promise<Register> }[] = [
  { name: 'demo', load: async () => (await import('./commands/demo.js')).registerDemo },
  { name: 'rolllog', load: async () => (await import('./commands/rolllog.js')).registerRolllog },
  { name: 'cluster', load: async () => (await import('./commands/cluster.js')).registerCluster },
  { name: 'node', load: async () => (await import('./commands/node.js')).registerNode },
  { name: 'verify', load: async () => (await import('./commands/verify.js')).registerVerify },
  { name: 'simulate', load: async () => (await import('./commands/simulate.js')).registerSimulate },
  { name: 'capture', load: async () => (await import('./commands/capture.js')).registerCapture },
  { name: 'agent', load: async () => (await import('./commands/agent.js')).registerAgent },
  { name: 'parse', load: async () => (await import('./commands/parse.js')).registerParse },
  { name: 'analyze', load: async () => (await import('./commands/analyze.js')).registerAnalyze },
  { name: 'watch', load: async () => (await import('./commands/watch.js')).registerWatch },
];

/**
 * The program with the commands `argv` needs: the one it names, none for a bare --version, all
 * otherwise (the command list in --help, an unknown command's suggestions).
 */
export async function buildProgram(argv: string[] = []): Promise<Command> {
  const program = new Command('rollcall')
    .description(
      'Coordinated distributed systems: global barriers that stay fast at any cluster size,\nand the tools to prove — or predict — a distributed deadlock.',
    )
    .version(ROLLCALL_VERSION)
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  program.configureHelp({ sortSubcommands: false });
  const args = argv.slice(2);
  const word = args.find((a) => !a.startsWith('-'));
  const named = COMMANDS.filter((c) => c.name === word);
  const versionOnly = word === undefined && args.length > 0 && args.every((a) => a === '--version' || a === '-V');
  const wanted = named.length > 0 ? named : versionOnly ? [] : COMMANDS;
  const registers = await Promise.all(wanted.map((c) => c.load()));
  for (const register of registers) register(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = await buildProgram(argv);
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
