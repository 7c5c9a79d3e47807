// `rollcall capture`: synchronized thread dumps of many processes into a bundle directory.
import { readFile } from 'node:fs/promises';
import cliProgress from 'cli-progress';
import { Command, Option } from 'commander';
import { BundleExistsError, type BundleManifest } from '../../dumps/bundle.js';
import {
  captureBundle,
  DEFAULT_CAPTURE_TIMEOUT_MS,
  MAX_ROUNDS,
  validateCapture,
  type CaptureOptions,
  type TargetSpec,
} from '../../dumps/capture.js';
import { MAX_TARGETS_FILE_BYTES, parseTargetsText, TARGETS_FILE_HELP } from '../../dumps/targets.js';
import { UsageError } from '../errors.js';
import { collect, durationMsOption, intOption, parseNamed } from '../options.js';

/** Conventional status of a command stopped by SIGINT. */
const EXIT_INTERRUPTED = 130;

interface CaptureFlags {
  url?: string[];
  jvm?: string[];
  cmd?: string[];
  targets?: string;
  interval: number;
  count: number;
  out: string;
  timeoutMs: number;
  force?: boolean;
  json?: boolean;
}

export function registerCapture(program: Command): void {
  program
    .command('capture')
    .description(
      'Take thread dumps of many processes at the same instants, every interval, into a bundle directory (DIR/manifest.json plus DIR/<node>/<round>.txt) for `rollcall analyze`.',
    )
    .option(
      '--url <NAME=URL>',
      'GET a dump over HTTP (HBase/Hadoop /stacks, rollcall admin /stacks); repeatable',
      collect,
    )
    .option(
      '--jvm <NAME=PID>',
      'a local JVM, through `jcmd PID Thread.print -l` (or `jstack -l PID`); repeatable',
      collect,
    )
    .option('--cmd <NAME=COMMAND>', 'a shell command that prints a dump (e.g. over ssh); repeatable', collect)
    .option('--targets <FILE>', 'read targets from FILE (format below)')
    .addOption(
      new Option('--interval <DURATION>', 'time between rounds')
        .default(1000, '1s')
        .argParser(durationMsOption('--interval')),
    )
    .option('--count <N>', 'number of rounds', intOption('--count', 1, MAX_ROUNDS), 3)
    .requiredOption('--out <DIR>', 'bundle directory to create (must be empty or absent)')
    .option(
      '--timeout-ms <MS>',
      'cut off a capture slower than this and record it as an error',
      intOption('--timeout-ms', 1, 3_600_000),
      DEFAULT_CAPTURE_TIMEOUT_MS,
    )
    .option('--force', 'replace the manifest and node folders of an existing bundle in DIR')
    .option('--json', 'print the manifest as JSON instead of a summary')
    .addHelpText(
      'after',
      `
Every round launches all targets together at t0 + round × interval; each capture records when
it was scheduled, started and finished, and each round its skew (latest − earliest start). A
capture that fails, is larger than 64 MiB or slower than --timeout-ms is recorded with its error
and the round goes on. A target still busy with the previous round is skipped for this one.

${TARGETS_FILE_HELP}

Exit status: 0 when the bundle was written (failed captures are recorded in it), 2 on bad usage,
130 when interrupted (Ctrl-C; the bundle keeps what was captured, without completedAt).

Examples:
  rollcall capture --jvm master=4242 --jvm rs1=4343 --interval 2s --count 6 --out incident-1
  rollcall capture --url m=http://127.0.0.1:16010/stacks --url rs1=http://rs1:16030/stacks --out b`,
    )
    .action(async (flags: CaptureFlags) => {
      await runCapture(flags);
    });
}

async function runCapture(flags: CaptureFlags): Promise<void> {
  const targets: TargetSpec[] = [
    ...(flags.url ?? []).map((v) => named('--url', v, 'url')),
    ...(flags.jvm ?? []).map((v) => named('--jvm', v, 'jvm')),
    ...(flags.cmd ?? []).map((v) => named('--cmd', v, 'cmd')),
  ];
  if (flags.targets !== undefined) targets.push(...(await readTargets(flags.targets)));
  const options: CaptureOptions = {
    targets,
    intervalMs: flags.interval,
    count: flags.count,
    outDir: flags.out,
    timeoutMs: flags.timeoutMs,
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
  try {
    manifest = await captureBundle(options);
  } catch (err) {
    if (err instanceof BundleExistsError) throw new UsageError(err.message);
    throw err;
  } finally {
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

function named(flag: string, v: string, kind: TargetSpec['kind']): TargetSpec {
  const { name, value } = parseNamed(flag, v);
  return { name, kind, spec: value };
}

async function readTargets(path: string): Promise<TargetSpec[]> {
  let text: string;
  try {
    const buf = await readFile(path);
    if (buf.byteLength > MAX_TARGETS_FILE_BYTES) throw new Error(`over ${MAX_TARGETS_FILE_BYTES} bytes`);
    text = buf.toString('utf8');
  } catch (err) {
    throw new UsageError(`cannot read --targets ${path}: ${(err as Error).message}`);
  }
  try {
    return parseTargetsText(text, path);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

function summary(m: BundleManifest, dir: string): string {
  const ok = m.captures.filter((c) => c.error === undefined).length;
  const maxSkew = m.rounds.reduce((a, r) => Math.max(a, r.skewMs), 0);
  const lines = [
    `bundle ${dir}: ${m.targets.length} targets × ${m.rounds.length} rounds every ${m.intervalMs} ms — ` +
      `${ok}/${m.captures.length} captures ok, max skew ${maxSkew.toFixed(1)} ms`,
  ];
  const failures = m.captures.filter((c) => c.error !== undefined);
  for (const c of failures.slice(0, 20)) lines.push(`  ${c.node} round ${c.round}: ${c.error}`);
  if (failures.length > 20) lines.push(`  … and ${failures.length - 20} more failures (see manifest.json)`);
  return lines.join('\n') + '\n';
}
