// `rollcall rolllog`: the cluster-wide WAL roll, run K times on an in-process cluster over real
// TCP (or on an existing one with --master), reported as a table or as JSON.
import { Command, InvalidArgumentError, Option } from 'commander';
import { ROLLLOG_MODES, type RolllogMode } from '../../cluster/index.js';
import {
  MAX_RUNS,
  RolllogInterrupted,
  RolllogStartError,
  ensureFdsFor,
  runRolllog,
  stderrLog,
  type RolllogReport,
  type RunReport,
} from '../../runtime/index.js';
import { parseAddress } from '../../substrate/types.js';
import { EXIT_USAGE, UsageError } from '../errors.js';
import { DEFAULT_DETECT_INTERVAL_MS, type Prediction } from '../../detect/index.js';
import { combineHooks, detectHooks, predictHooks } from '../../runtime/detect.js';
import { COORDINATION_HELP, coordinationOption, requireReachableZooKeeper } from './coordination.js';
import { choiceOption, intOption } from '../options.js';
import { addTuningOptions, asUsage, checkLease, type TuningFlags } from './cluster.js';
import { addSecurityOptions, securityFiles, type SecurityFlags } from '../security.js';

interface RolllogFlags extends TuningFlags, SecurityFlags {
  nodes?: number;
  mode: RolllogMode;
  runs: number;
  master?: string;
  coordination?: string;
  backupRoot?: string;
  json?: boolean;
  verbose?: boolean;
  detect?: boolean;
  detectIntervalMs: number;
  predict?: boolean;
}

export const MAX_INPROCESS_NODES = 5000;

export function registerRolllog(program: Command): Command {
  const cmd = program
    .command('rolllog')
    .description(
      "Roll every worker's WAL through a two-phase barrier, K times, on an in-process cluster over real TCP (or an existing one), and report each run.",
    )
    .option('--nodes <N>', 'workers of the in-process cluster', intOption('--nodes', 1, MAX_INPROCESS_NODES))
    .addOption(
      new Option(
        '--mode <MODE>',
        'fixed: results travel in the barrier, client polls; legacy: worker callback into the master (deadlocks at scale)',
      )
        .argParser(choiceOption('--mode', ROLLLOG_MODES))
        .default('fixed'),
    )
    .option('--runs <K>', 'how many rolllogs to run', intOption('--runs', 1, MAX_RUNS), 1)
    .option('--master <HOST:PORT>', 'run against an existing cluster (see `rollcall cluster start`)', (v: string) => {
      try {
        parseAddress(v);
      } catch (err) {
        throw new InvalidArgumentError((err as Error).message);
      }
      return v;
    })
    .option('--coordination <URL>', COORDINATION_HELP, coordinationOption)
    .option('--backup-root <URI>', 'backup root whose rows the roll updates')
    .option('--detect', 'watch for distributed deadlocks online and abort the procedure when one is proven')
    .option(
      '--detect-interval-ms <MS>',
      "how often the detector collects every node's waits",
      intOption('--detect-interval-ms', 10, 60_000),
      DEFAULT_DETECT_INTERVAL_MS,
    )
    .option('--predict', 'record class-level waits and predict latent (scale-dependent) deadlocks')
    .option('--json', 'print the report as JSON')
    .option('--verbose', 'log node events to stderr');
  addSecurityOptions(cmd, 'the cluster secret (of a cluster that has one; or secures the in-process cluster)');
  addTuningOptions(cmd);
  cmd.addHelpText(
    'after',
    `
JSON: {"mode","nodes","handlers","runs":[{"outcome":"ok"|"timeout"|"failed","durationMs","error"?}],
       "summary":{"ok","failed","p50Ms","p99Ms","maxMs"}}   (exit 0 whenever the runs ran)
  a master lost mid-way stops the runs: the partial report gains "error", and the exit code is 2
  --detect adds to each run: "outcome":"deadlock-detected","detectedAfterMs","cycle"; and "detector":{cost}
  --predict adds "predictions":[{"cycle","pool","handlers","firesAtConcurrency","firesAtNodes","evidence",
    "node","role","size","path","requests","confidence","confirm",…}] (the shape analyze --predict gives)

Examples:
  rollcall rolllog --nodes 60 --mode fixed --runs 20
  rollcall rolllog --nodes 60 --mode legacy --rpc-timeout-ms 3000 --procedure-timeout-ms 3000
  rollcall rolllog --nodes 60 --mode legacy --detect        # proven in well under a second
  rollcall rolllog --nodes 3 --mode legacy --predict        # predicts the cliff from 3 workers
  rollcall rolllog --coordination zookeeper://127.0.0.1:2181/rollcall --runs 5
      # a running cluster (rollcall node … --coordination): its active master, followed across failovers`,
  );
  cmd.action(async (flags: RolllogFlags) => {
    if (flags.master === undefined && flags.nodes === undefined && flags.coordination === undefined)
      throw new UsageError(
        'rolllog needs --nodes N (or --master HOST:PORT, or --coordination URL of a running cluster)',
      );
    // With --nodes, --coordination configures the in-process cluster; without, it finds the running
    // cluster's active master in ZooKeeper (from --master, if given) and follows it across failovers.
    const existing = flags.master !== undefined || flags.nodes === undefined;
    checkLease(flags);
    const progress = process.stderr.isTTY === true;
    // Ctrl-C stops the cluster and removes its data instead of leaving temp folders behind.
    const interrupt = new AbortController();
    const onSignal = (): void => interrupt.abort();
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    if (flags.predict && existing) {
      throw new UsageError(
        '--predict watches an in-process cluster; it cannot be used with --master (or --coordination without --nodes)',
      );
    }
    try {
      if (!existing) ensureFdsFor(flags.nodes!, `--nodes ${flags.nodes}`);
    } catch (err) {
      asUsage(err);
    }
    await requireReachableZooKeeper(flags.coordination);
    const detect = flags.detect ? detectHooks({ intervalMs: flags.detectIntervalMs }) : undefined;
    const predict = flags.predict ? predictHooks() : undefined;
    let report: RolllogReport;
    try {
      report = await runRolllog({
        nodes: flags.nodes ?? 0,
        mode: flags.mode,
        runs: flags.runs,
        handlers: flags.handlers,
        priorityHandlers: flags.priorityHandlers,
        coordinatorPool: flags.coordinatorPool,
        memberPool: flags.memberPool,
        rpcTimeoutMs: flags.rpcTimeoutMs,
        procedureTimeoutMs: flags.procedureTimeoutMs,
        ...(flags.memberTimeoutMs !== undefined ? { memberTimeoutMs: flags.memberTimeoutMs } : {}),
        wakeIntervalMs: flags.wakeIntervalMs,
        checkCostMs: flags.checkCostMs,
        writeRate: flags.writeRate,
        memberLeaseMs: flags.memberLeaseMs,
        reportIntervalMs: flags.reportIntervalMs,
        ...(flags.backupRoot ? { backupRoot: flags.backupRoot } : {}),
        ...(flags.master ? { master: flags.master } : {}),
        security: securityFiles(flags),
        ...(flags.coordination
          ? existing
            ? { masterFrom: flags.coordination }
            : { coordination: flags.coordination }
          : {}),
        ...(flags.verbose ? { log: stderrLog('rolllog') } : {}),
        signal: interrupt.signal,
        hooks: combineHooks(detect, predict),
        ...(progress
          ? {
              onRun: (i: number, run: RunReport, total: number) =>
                process.stderr.write(
                  `\rrolllog ${flags.mode}: run ${i + 1}/${total} ${run.outcome} ${run.durationMs.toFixed(1)} ms   `,
                ),
            }
          : {}),
      });
    } catch (err) {
      if (err instanceof RolllogInterrupted) {
        process.stderr.write('rollcall rolllog: interrupted; cluster stopped\n');
        process.exitCode = 130;
        return;
      }
      if (err instanceof RolllogStartError) throw new UsageError(err.message);
      asUsage(err);
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      if (progress) process.stderr.write('\r\x1b[K');
    }
    if (detect) report.detector = detect.cost();
    if (flags.json) process.stdout.write(JSON.stringify(report) + '\n');
    else process.stdout.write(formatReport(report));
    if (report.error !== undefined) {
      // The runs stopped early (the master is gone): what ran is above, why it stopped here.
      process.stderr.write(`rollcall rolllog: ${report.error}\n`);
      process.exitCode = EXIT_USAGE;
    }
  });
  return cmd;
}

export function formatReport(r: RolllogReport): string {
  const out: string[] = [];
  out.push(`rolllog ${r.mode} mode: ${r.nodes} workers, ${r.handlers} master handlers, ${r.runs.length} run(s)`);
  out.push('  run  outcome             duration');
  r.runs.forEach((run, i) => {
    out.push(`  ${String(i + 1).padStart(3)}  ${run.outcome.padEnd(18)}  ${run.durationMs.toFixed(1).padStart(9)} ms`);
    if (run.detectedAfterMs !== undefined) out.push(`       deadlock proven after ${run.detectedAfterMs} ms`);
    if (run.error) out.push(`       ${run.error}`);
  });
  for (const p of (r.predictions ?? []) as Prediction[]) {
    out.push(`prediction: ${p.summary}`);
    out.push(`  cycle: ${p.cycle.join(' → ')}`);
    for (const e of p.evidence.slice(0, 4)) {
      out.push(
        `  ${e.from}${e.serving ? ` serving ${e.serving}` : ''} waits on ${e.waitsOn} (${e.observed}x) at ${e.frames[0] ?? '?'}`,
      );
    }
    if (p.confirm !== undefined) out.push(`  confirm in the simulator: ${p.confirm}`);
  }
  if (r.predictions && r.predictions.length === 0) out.push('prediction: no latent deadlock in the observed waits');
  const s = r.summary;
  out.push(
    `summary: ${s.ok} ok, ${s.failed} not ok; p50 ${s.p50Ms.toFixed(1)} ms, p99 ${s.p99Ms.toFixed(1)} ms, max ${s.maxMs.toFixed(1)} ms`,
  );
  return out.join('\n') + '\n';
}
