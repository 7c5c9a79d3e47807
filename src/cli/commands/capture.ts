// `rollcall capture`: synchronized thread dumps of many processes into a bundle directory, and
// `rollcall capture --list-jvms`: the local JVMs capture can reach.
import cliProgress from 'cli-progress';
import { Command, Option } from 'commander';
import {
  captureBundle,
  listJvms,
  MAX_ROUNDS,
  TARGETS_FILE_HELP,
  validateCapture,
  type CaptureOptions,
  type JvmInfo,
} from '../../capture/index.js';
import { enterRealtime } from '../../capture/realtime.js';
import { BundleExistsError, bundleDirProblem, type BundleManifest } from '../../dumps/bundle.js';
import { addTargetOptions, resolveTargetFlags, type TargetFlags } from '../capture-targets.js';
import { UsageError } from '../errors.js';
import { durationMsOption, intOption } from '../options.js';

/** Conventional status of a command stopped by SIGINT. */
const EXIT_INTERRUPTED = 130;
/** Failed captures listed in the summary before the rest are counted. */
const MAX_FAILURES_LISTED = 20;

interface CaptureFlags extends TargetFlags {
  listJvms?: boolean;
  interval: number;
  count: number;
  out?: string;
  realtime: boolean;
  force?: boolean;
  json?: boolean;
}

export function registerCapture(program: Command): void {
  const cmd = program
    .command('capture')
    .description(
      'Take thread dumps of many processes at the same instants, every interval, into a bundle directory (DIR/manifest.json plus DIR/<node>/<round>.txt) for `rollcall analyze`.',
    )
    .option('--list-jvms', 'list the local JVMs (pid, uid, main class, attachable) and exit');
  addTargetOptions(cmd)
    .addOption(
      new Option('--interval <DURATION>', 'time between rounds')
        .default(1000, '1s')
        .argParser(durationMsOption('--interval')),
    )
    .option('--count <N>', 'number of rounds', intOption('--count', 1, MAX_ROUNDS), 3)
    .option('--out <DIR>', 'bundle directory to create (must be empty or absent)')
    .option('--no-realtime', 'do not ask for real-time scheduling of the releasing thread (see below)')
    .option('--force', 'replace the manifest and node folders of an existing bundle in DIR')
    .option('--json', 'print the manifest (or the JVM list) as JSON instead of a summary')
    .addHelpText(
      'after',
      `
Every round releases all targets together at t0 + round × interval; each capture records how it
was taken (method: attach, jcmd, jstack, http, cmd, agent), when it was scheduled, when the request
reached the process (requestedAtMs) and when the first byte came back (firstByteAtMs); each round
its skew (skewMs, from the request instants) and firstByteSkewMs. A capture that fails, is larger
than 64 MiB or slower than --timeout-ms is recorded with its error (no partial file is kept) and
the round goes on; a target still busy with the previous round is skipped for this one.

Local JVMs are dumped through the HotSpot attach protocol (Linux, JDK 8-25): one write per dump
on a connection opened before the instant, beside a per-thread CPU sample from /proc
(<node>/<round>.cpu.json). A JVM is only signalled once it is proven to be HotSpot (libjvm.so
mapped, SIGQUIT handled); one that cannot be attached (another user's, attach disabled, not Java,
gone) is recorded with the reason. --jvm-method auto falls back to jcmd/jstack where attach cannot
work (not Linux, OpenJ9, no attach socket).

When the system allows it (root or CAP_SYS_NICE), the thread that releases each round runs under
SCHED_FIFO while capture runs: otherwise, on a loaded machine, each JVM woken by its request can
preempt it between two releases and spread a round over milliseconds.

Remote hosts: --agent NAME=URL asks a \`rollcall agent\` for its JVMs and has each dump taken there
at the instant (its clock offset measured per request); --ssh and --kubectl list JVMs with
\`jcmd -l\` and run \`jcmd PID Thread.print -l\` remotely, the remote shell connected and waiting
before the instant. Without --jvm-match every JVM there is captured.

${TARGETS_FILE_HELP}

Exit status: 0 when the bundle was written (failed captures are recorded in it), 2 on bad usage,
130 when interrupted (Ctrl-C; the bundle keeps what was captured, without completedAt).

Examples:
  rollcall capture --jvm-match HRegionServer --jvm-match master=HMaster --interval 250ms --count 8 --out incident-1
  rollcall capture --list-jvms
  rollcall capture --agent rs1=http://rs1:7070 --agent rs2=http://rs2:7070 --jvm-match HRegionServer --secret-file cluster.secret --out b
  rollcall capture --ssh rs3.example.com --jvm-match HRegionServer --out b
  rollcall capture --url m=http://127.0.0.1:16010/stacks --url rs1=http://rs1:16030/stacks --out b`,
    )
    .action(async (flags: CaptureFlags) => {
      if (flags.listJvms) return listLocalJvms(flags.json === true);
      await runCapture(flags);
    });
}

function listLocalJvms(json: boolean): void {
  if (process.platform !== 'linux') throw new UsageError('--list-jvms reads /proc and needs Linux');
  const jvms = listJvms();
  if (json) {
    process.stdout.write(JSON.stringify(jvms, null, 2) + '\n');
    return;
  }
  process.stdout.write(jvmTable(jvms));
}

export function jvmTable(jvms: readonly JvmInfo[]): string {
  if (jvms.length === 0) return 'no JVM found on this host\n';
  const rows = jvms.map((j) => [
    String(j.pid),
    String(j.uid),
    j.user ?? '',
    j.attachable ? 'yes' : 'no',
    `${j.mainClass || '?'}${j.attachable ? '' : `  (${j.reason})`}`,
  ]);
  const head = ['PID', 'UID', 'USER', 'ATTACH', 'MAIN CLASS'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]): string =>
    r.map((c, i) => (i === r.length - 1 ? c : i < 2 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ');
  return [line(head), ...rows.map(line)].join('\n') + '\n';
}

async function runCapture(flags: CaptureFlags): Promise<void> {
  if (flags.out === undefined) throw new UsageError('--out DIR is required (or --list-jvms)');
  // Checked before any work (discovery, attach): a file or a non-empty folder fails at once.
  const outProblem = bundleDirProblem(flags.out, flags.force === true);
  if (outProblem !== undefined) throw new UsageError(outProblem);
  const { targets, capturer, notes } = await resolveTargetFlags(flags);
  for (const n of notes) process.stderr.write(`rollcall: ${n}\n`);
  const options: CaptureOptions = {
    ...capturer,
    targets,
    intervalMs: flags.interval,
    count: flags.count,
    outDir: flags.out,
    force: flags.force === true,
  };
  const problem = validateCapture(options);
  if (problem !== undefined) throw new UsageError(problem);

  const total = targets.length * flags.count;
  const bar =
    process.stderr.isTTY && !flags.json
      ? new cliProgress.SingleBar(
          {
            format: 'capture [{bar}] {value}/{total} captures | round {round}/{rounds} | failed {failed}',
            stream: process.stderr,
            hideCursor: true,
          },
          cliProgress.Presets.shades_classic,
        )
      : undefined;
  let finished = 0;
  let failed = 0;
  bar?.start(total, 0, { round: 0, rounds: flags.count, failed: 0 });
  options.onCapture = (rec) => {
    finished++;
    if (rec.error !== undefined) failed++;
    bar?.update(finished, { round: rec.round + 1, failed });
  };
  const abort = new AbortController();
  const onSigint = (): void => abort.abort();
  process.once('SIGINT', onSigint);
  options.signal = abort.signal;
  let manifest: BundleManifest;
  const realtime = flags.realtime ? enterRealtime() : undefined;
  try {
    manifest = await captureBundle(options);
  } catch (err) {
    if (err instanceof BundleExistsError) throw new UsageError(err.message);
    const code = (err as NodeJS.ErrnoException).code;
    if (typeof code === 'string')
      throw new UsageError(`cannot write the bundle in ${flags.out}: ${(err as Error).message}`);
    throw err;
  } finally {
    realtime?.restore();
    bar?.stop();
    process.removeListener('SIGINT', onSigint);
  }
  if (abort.signal.aborted) {
    // Interrupted: the bundle holds what was captured so far and has no completedAt.
    process.stderr.write(`rollcall: capture interrupted after ${manifest.rounds.length} rounds\n`);
    process.exitCode = EXIT_INTERRUPTED;
  }
  if (flags.json) {
    process.stdout.write(JSON.stringify(manifest, null, 2) + '\n');
    return;
  }
  process.stdout.write(summary(manifest, flags.out));
}

function summary(m: BundleManifest, dir: string): string {
  const ok = m.captures.filter((c) => c.error === undefined).length;
  const maxSkew = m.rounds.reduce((a, r) => Math.max(a, r.skewMs), 0);
  const maxFirstByte = m.rounds.reduce((a, r) => Math.max(a, r.firstByteSkewMs ?? 0), 0);
  const methods = new Map<string, number>();
  for (const c of m.captures)
    if (c.error === undefined && c.method) methods.set(c.method, (methods.get(c.method) ?? 0) + 1);
  const by = [...methods].map(([k, n]) => `${n} by ${k}`).join(', ');
  const withCpu = m.captures.filter((c) => c.cpuFile !== undefined).length;
  const lines = [
    `bundle ${dir}: ${m.targets.length} targets × ${m.rounds.length} rounds every ${m.intervalMs} ms — ` +
      `${ok}/${m.captures.length} captures ok${by ? ` (${by})` : ''}, max skew ${maxSkew.toFixed(1)} ms ` +
      `(first byte ${maxFirstByte.toFixed(1)} ms)${withCpu > 0 ? `, ${withCpu} with per-thread CPU` : ''}`,
  ];
  const failures = m.captures.filter((c) => c.error !== undefined);
  for (const c of failures.slice(0, MAX_FAILURES_LISTED)) lines.push(`  ${c.node} round ${c.round}: ${c.error}`);
  if (failures.length > MAX_FAILURES_LISTED) {
    lines.push(`  … and ${failures.length - MAX_FAILURES_LISTED} more failures (see manifest.json)`);
  }
  return lines.join('\n') + '\n';
}
