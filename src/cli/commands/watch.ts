// `rollcall watch`: continuous deadlock detection on a live system — the targets of `rollcall
// capture` dumped every interval, the last rounds analyzed as `rollcall analyze` would, an alert
// (event line, flight-recorder bundle, --on-alert command) once a deadlock holds in two consecutive
// windows, and Prometheus metrics. Runs until SIGTERM or SIGINT.
import { statSync } from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import { TARGETS_FILE_HELP, validateCapture } from '../../capture/index.js';
import type { RulePack } from '../../diagnose/rules.js';
import { parseAddress, type Address } from '../../substrate/types.js';
import type { WatchEvent } from '../../watch/index.js';
import { addTargetOptions, resolveTargetFlags, type TargetFlags } from '../capture-targets.js';
import { UsageError } from '../errors.js';
import { choiceOption, durationMsOption, intOption } from '../options.js';
import { readRulesFile } from '../rules-file.js';

/** Bounds on --interval: fast enough for rollcall's own clusters, slow enough for an hourly look. */
const MIN_INTERVAL_MS = 10;
const MAX_INTERVAL_MS = 3_600_000;
const DEFAULT_KEEP = 10;
/** Steps of a cycle printed in a text event line. */
const MAX_TEXT_CYCLE_STEPS = 8;

interface WatchFlags extends TargetFlags {
  interval: number;
  window: number;
  alertOn: 'deadlock' | 'stuck';
  out?: string;
  keep: number;
  onAlert?: string;
  onAlertTimeoutMs: number;
  metrics?: Address;
  rules?: string;
  count?: number;
  json?: boolean;
}

export function registerWatch(program: Command): void {
  const cmd = program
    .command('watch')
    .description(
      'Watch live processes for deadlocks: synchronized thread dumps every interval, the last rounds analyzed as `rollcall analyze` does, an alert with a recorded bundle once a deadlock holds, and Prometheus metrics.',
    );
  addTargetOptions(cmd, 'twice --interval, 1 s to 10 s');
  cmd
    .addOption(
      new Option('--interval <DURATION>', 'time between rounds')
        .default(1000, '1s')
        .argParser(durationOption('--interval')),
    )
    .option('--window <K>', 'rounds per analyzed window', intOption('--window', 1, 30), 3)
    .addOption(
      new Option('--alert-on <WHAT>', 'alert on a deadlock, or also on a stuck verdict or an exhausted pool')
        .default('deadlock')
        .argParser(choiceOption('--alert-on', ['deadlock', 'stuck'] as const)),
    )
    .option('--out <DIR>', 'write a flight-recorder bundle per alert under DIR (created if absent)')
    .option('--keep <N>', 'bundles kept in --out (the oldest go first)', intOption('--keep', 1, 10_000), DEFAULT_KEEP)
    .option('--on-alert <COMMAND>', 'shell command run for each alert (environment below); never waited for')
    .option(
      '--on-alert-timeout-ms <MS>',
      'kill an --on-alert command (and what it started) running longer than this',
      intOption('--on-alert-timeout-ms', 1, 3_600_000),
      30_000,
    )
    .option('--metrics <HOST:PORT>', 'serve Prometheus metrics at http://HOST:PORT/metrics', addressOption)
    .option('--rules <FILE>', 'extra analysis rules (as for `rollcall analyze --rules`)')
    .option('--count <N>', 'stop after N rounds (default: until SIGTERM or SIGINT)', intOption('--count', 1, 1e12))
    .option('--json', 'print each alert as one JSON line')
    .addHelpText(
      'after',
      `
Every interval all targets are dumped at the same instant (as \`rollcall capture\`, into memory),
and the last --window rounds are analyzed as \`rollcall analyze\` analyzes a bundle. When a
deadlock (with --alert-on stuck: also a stuck verdict or an exhausted pool) holds in 2 consecutive
windows of at least 2 rounds, the watch raises one alert for it, and raises another only after a
window without it. An alert:
  - prints a line; with --json {"event":"deadlock"|"stuck","at","verdict","cycle","nodes","bundle"}
  - writes a bundle under --out (the window's rounds, manifest.json, index.html — the HTML report —
    and event.json), named <UTC time>-<verdict>; \`rollcall analyze\` reads it; --keep bounds them
  - runs --on-alert with ROLLCALL_EVENT, ROLLCALL_VERDICT, ROLLCALL_BUNDLE, ROLLCALL_NODES and
    ROLLCALL_EVENT_JSON set; its output (1 MiB at most) goes to the bundle's on-alert.log; at most
    2 run at once, each killed at --on-alert-timeout-ms
and watching goes on. Failed captures are reported on stderr every round they fail, counted, and
tried again the next round; a JVM found by --jvm-match NAME=REGEX is followed across restarts.
stderr also says when a target answers again and when the verdict changes.

Metrics (--metrics): rollcall_watch_rounds_total, rollcall_watch_rounds_skipped_total,
rollcall_watch_capture_errors_total{node}, rollcall_watch_target_up{node},
rollcall_watch_capture_skew_seconds (histogram), rollcall_watch_analysis_seconds (histogram),
rollcall_threads{node,state} (blocked, running-stuck, waiting, progressing, idle over the window),
rollcall_pool_threads{node,pool,state} (busy, idle, blocked), rollcall_pool_size{node,pool},
rollcall_watch_alerts_total{verdict}, rollcall_watch_verdict{verdict} (1 for the current one),
rollcall_watch_pools_omitted, and the process's own (process_cpu_seconds_total, …). At most 1000
nodes and 32 pools per node (exhausted first, then the largest) get series.

${TARGETS_FILE_HELP}

Exit status: 0 when stopped (SIGTERM or SIGINT: the round in flight finishes; a second signal
cuts it off) or after --count rounds, 2 on bad usage.

Examples:
  rollcall watch --jvm-match orders=OrdersServer --jvm-match inventory=InventoryServer --out /var/lib/rollcall-watch --metrics 0.0.0.0:9464
  rollcall watch --url master=http://m:16010/stacks --url rs1=http://rs1:16030/stacks --interval 250ms --json --out rec`,
    )
    .action((flags: WatchFlags) => runWatch(flags));
}

function durationOption(name: string): (v: string) => number {
  const parse = durationMsOption(name);
  return (v: string) => {
    const ms = parse(v);
    if (ms < MIN_INTERVAL_MS || ms > MAX_INTERVAL_MS)
      throw new InvalidArgumentError(`${name} takes ${MIN_INTERVAL_MS}ms to 1h, not '${v}'`);
    return ms;
  };
}

function addressOption(v: string): Address {
  try {
    return parseAddress(v);
  } catch (err) {
    throw new InvalidArgumentError(`--metrics: ${(err as Error).message}`);
  }
}

async function runWatch(flags: WatchFlags): Promise<void> {
  // Checked before any work (discovery, attach).
  if (flags.out !== undefined) {
    const problem = outDirProblem(flags.out);
    if (problem !== undefined) throw new UsageError(problem);
  }
  const rules: RulePack[] = flags.rules !== undefined ? [readRulesFile(flags.rules)] : [];
  const { targets, capturer, notes } = await resolveTargetFlags(flags);
  const problem = validateCapture({ targets, count: 1, intervalMs: flags.interval });
  if (problem !== undefined) throw new UsageError(problem);
  const notice = (line: string): void => void process.stderr.write(`rollcall watch: ${line}\n`);
  for (const n of notes) notice(n);

  // prom-client and the analysis load only when a watch runs.
  const w = await import('../../watch/index.js');
  const metrics = new w.WatchMetrics({ processMetrics: true });
  let recorder;
  if (flags.out !== undefined) {
    recorder = new w.FlightRecorder(flags.out, flags.keep);
    try {
      await recorder.open();
    } catch (err) {
      throw new UsageError(`cannot use --out ${flags.out}: ${(err as Error).message}`);
    }
  }
  let server;
  if (flags.metrics !== undefined) {
    try {
      server = await w.startMetricsServer(metrics, flags.metrics.host, flags.metrics.port);
    } catch (err) {
      throw new UsageError(
        `cannot serve --metrics on ${flags.metrics.host}:${flags.metrics.port}: ${(err as Error).message}`,
      );
    }
  }
  const watcher = new w.Watcher({
    targets,
    capturer,
    intervalMs: flags.interval,
    window: flags.window,
    alertOn: flags.alertOn,
    ...(flags.count !== undefined ? { count: flags.count } : {}),
    analysis: { rules },
    ...(recorder !== undefined ? { recorder } : {}),
    ...(flags.onAlert !== undefined ? { onAlert: new w.AlertCommand(flags.onAlert, flags.onAlertTimeoutMs) } : {}),
    metrics,
    listener: {
      notice,
      event: (e) => void process.stdout.write(flags.json === true ? JSON.stringify(e) + '\n' : eventLine(e)),
    },
  });
  notice(
    `${targets.length} target(s) every ${flags.interval} ms, window ${flags.window} rounds, alerting on ${flags.alertOn}` +
      (server !== undefined ? `; metrics at ${server.url}` : '') +
      (recorder !== undefined
        ? `; bundles in ${flags.out} (newest ${flags.keep} kept)`
        : '; no --out: alerts are not recorded'),
  );
  let signals = 0;
  const onSignal = (s: NodeJS.Signals): void => {
    signals++;
    notice(signals === 1 ? `${s}: stopping after the round in flight` : `${s}: stopping now`);
    watcher.stop(signals > 1);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const summary = await watcher.run();
    notice(
      `stopped after ${summary.rounds} rounds, ${summary.alerts} alert(s)` +
        (summary.skipped > 0 ? `, ${summary.skipped} round(s) skipped while analysis caught up` : ''),
    );
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await server?.close();
  }
}

/** Why --out cannot hold bundles (a file, not creatable), or undefined. */
function outDirProblem(dir: string): string | undefined {
  try {
    if (!statSync(dir).isDirectory()) return `--out ${dir} is not a directory`;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT') return `cannot use --out ${dir}: ${code ?? (err as Error).message}`;
  }
  return undefined;
}

/** `<at> DEADLOCK across a, b: a/t1 → b/t2 → …; bundle DIR` */
function eventLine(e: WatchEvent): string {
  const steps = e.cycle.slice(0, MAX_TEXT_CYCLE_STEPS).map((s) => `${s.node}/${s.thread ?? `[${s.pool ?? '?'}]`}`);
  const more = e.cycle.length > steps.length ? ` → … ${e.cycle.length - steps.length} more` : '';
  const first = e.cycle[0];
  const chain =
    steps.length > 0 ? `: ${steps.join(' → ')}${more} → ${first!.node}/${first!.thread ?? `[${first!.pool}]`}` : '';
  const nodes = e.nodes.length > 0 ? ` across ${e.nodes.join(', ')}` : '';
  return `${e.at} ${e.event.toUpperCase()}${nodes} (verdict ${e.verdict})${chain}; bundle ${e.bundle ?? 'not recorded'}\n`;
}
