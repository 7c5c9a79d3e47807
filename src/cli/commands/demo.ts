// `rollcall demo`: the main job. One command tells the whole story and writes a report.
import path from 'node:path';
import type { Command } from 'commander';
import { runDemo, formatDemoSummary } from '../../demo/run.js';
import { parseNodeList, NodeListError } from '../../sim/nodes.js';
import { UsageError } from '../errors.js';
import { intOption } from '../options.js';
import { ensureFdsFor, prepareDir } from '../../runtime/index.js';
import { asUsage } from './cluster.js';

interface DemoFlags {
  out: string;
  nodes: number;
  handlers: number;
  timeoutMs: number;
  fixedRuns: number;
  sweep: string;
  json?: boolean;
  verbose?: boolean;
}

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description(
      'Reproduce, prove, predict and fix the rolllog deadlock on this machine, and write an HTML report (about 20 s).',
    )
    .option('--out <DIR>', 'where to write index.html and the capture bundle', 'rollcall-demo')
    .option('--nodes <N>', 'workers of the in-process cluster', intOption('--nodes', 3, 1000), 60)
    .option('--handlers <N>', "the master's default-pool handlers", intOption('--handlers', 2, 1000), 30)
    .option(
      '--timeout-ms <MS>',
      "the legacy run's RPC and procedure timeout in step 1 (production: 60000)",
      intOption('--timeout-ms', 2000, 600_000),
      6000,
    )
    .option('--fixed-runs <K>', 'fixed-mode runs for the latency figures', intOption('--fixed-runs', 1, 10_000), 20)
    .option('--sweep <LIST>', 'simulated worker counts (FROM..TO/STEP or a list)', '5..200/5')
    .option('--json', 'print the summary as JSON instead of text')
    .option('--verbose', 'log node events to stderr')
    .addHelpText(
      'after',
      `
Steps, on an in-process cluster over real TCP (every node with its own RPC and admin listener):
  1. legacy rolllog on --nodes workers; while it hangs, dumps of every node's /stacks are taken
     at the same instants (3 rounds, 1 s apart) into DIR/bundle and analyzed: the cycle is shown
  2. legacy again with the online deadlock detector (production's 60,000 ms timeout)
  3. 3 workers with the latent-deadlock predictor: the cluster size at which it fires
  4. fixed mode (no callback), --fixed-runs runs: latency
  5. simulated sweep over --sweep workers, both modes, with the 60 s wall
Writes DIR/index.html (analysis report + latency and sweep charts) and DIR/bundle.`,
    )
    .action(async (flags: DemoFlags) => {
      let sweepSizes: number[];
      try {
        sweepSizes = parseNodeList(flags.sweep);
      } catch (err) {
        if (err instanceof NodeListError) throw new UsageError(err.message);
        throw err;
      }
      try {
        ensureFdsFor(flags.nodes, `--nodes ${flags.nodes}`);
        await prepareDir(path.resolve(flags.out), '--out');
      } catch (err) {
        asUsage(err);
      }
      const quiet = flags.json === true;
      const summary = await runDemo({
        outDir: path.resolve(flags.out),
        nodes: flags.nodes,
        handlers: flags.handlers,
        timeoutMs: flags.timeoutMs,
        fixedRuns: flags.fixedRuns,
        sweepSizes,
        progress: (step, total, text) => {
          if (!quiet) process.stderr.write(`[${step}/${total}] ${text}\n`);
        },
        ...(flags.verbose ? { log: (m: string) => process.stderr.write(`rollcall demo: ${m}\n`) } : {}),
      });
      if (flags.json) process.stdout.write(JSON.stringify(summary) + '\n');
      else process.stdout.write(`\n${formatDemoSummary(summary)}\n(${(summary.wallMs / 1000).toFixed(1)} s)\n`);
    });
}
