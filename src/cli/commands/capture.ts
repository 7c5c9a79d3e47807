// `rollcall capture`: synchronized thread dumps of many processes into a bundle directory, and
// `rollcall capture --list-jvms`: the local JVMs capture can reach.
import { readFile } from 'node:fs/promises';
import cliProgress from 'cli-progress';
import { Command, Option } from 'commander';
import {
  captureBundle,
  DEFAULT_CAPTURE_TIMEOUT_MS,
  JVM_METHODS,
  listJvms,
  MAX_ROUNDS,
  MAX_TARGETS_FILE_BYTES,
  parseTargetsText,
  resolveTargets,
  ResolveError,
  TARGETS_FILE_HELP,
  validateCapture,
  type CaptureOptions,
  type JvmInfo,
  type JvmMethod,
  type TargetSpec,
} from '../../capture/index.js';
import { enterRealtime } from '../../capture/realtime.js';
import { DEFAULT_SOCKET_WAIT_MS } from '../../capture/sources/attach.js';
import { BundleExistsError, bundleDirProblem, type BundleManifest } from '../../dumps/bundle.js';
import { adminToken, readSecretFile, NodeConfigError } from '../../runtime/secrets.js';
import { UsageError } from '../errors.js';
import { choiceOption, collect, durationMsOption, intOption, parseNamed } from '../options.js';

/** Conventional status of a command stopped by SIGINT. */
const EXIT_INTERRUPTED = 130;
/** Failed captures listed in the summary before the rest are counted. */
const MAX_FAILURES_LISTED = 20;

interface CaptureFlags {
  url?: string[];
  jvm?: string[];
  jvmMatch?: string[];
  jvmMethod: JvmMethod;
  listJvms?: boolean;
  cmd?: string[];
  agent?: string[];
  ssh?: string[];
  kubectl?: string[];
  local?: boolean;
  secretFile?: string;
  targets?: string;
  interval: number;
  count: number;
  out?: string;
  timeoutMs: number;
  attachTimeoutMs: number;
  threadCpu: boolean;
  realtime: boolean;
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
    .option('--jvm <NAME=PID>', 'a local JVM by pid; repeatable', collect)
    .option(
      '--jvm-match <REGEX|NAME=REGEX>',
      'every JVM whose main class or command line matches (local, or on the --agent/--ssh/--kubectl hosts); node <MainClass>-<pid>, or NAME; repeatable',
      collect,
    )
    .addOption(
      new Option(
        '--jvm-method <METHOD>',
        'how local JVMs are dumped: the HotSpot attach protocol, jcmd, jstack, or auto',
      )
        .default('auto')
        .argParser(choiceOption('--jvm-method', JVM_METHODS)),
    )
    .option('--list-jvms', 'list the local JVMs (pid, uid, main class, attachable) and exit')
    .option('--cmd <NAME=COMMAND>', 'a shell command that prints a dump; repeatable', collect)
    .option('--agent <NAME=URL>', "a `rollcall agent` serving a host's JVMs (http://HOST:PORT); repeatable", collect)
    .option('--ssh <[NAME=]HOST[:PID]>', 'JVMs on HOST, dumped by jcmd through ssh; repeatable', collect)
    .option(
      '--kubectl <[NAME=]POD[@NAMESPACE][:PID]>',
      'JVMs in a pod, dumped by jcmd through kubectl exec; repeatable',
      collect,
    )
    .option('--local', "with --agent/--ssh/--kubectl, match --jvm-match against this host's JVMs too")
    .option('--secret-file <FILE>', 'the cluster secret: authenticates to agents and admin URLs (Bearer token)')
    .option('--targets <FILE>', 'read targets from FILE (format below)')
    .addOption(
      new Option('--interval <DURATION>', 'time between rounds')
        .default(1000, '1s')
        .argParser(durationMsOption('--interval')),
    )
    .option('--count <N>', 'number of rounds', intOption('--count', 1, MAX_ROUNDS), 3)
    .option('--out <DIR>', 'bundle directory to create (must be empty or absent)')
    .option(
      '--timeout-ms <MS>',
      'cut off a capture slower than this and record it as an error',
      intOption('--timeout-ms', 1, 3_600_000),
      DEFAULT_CAPTURE_TIMEOUT_MS,
    )
    .option(
      '--attach-timeout-ms <MS>',
      'how long a JVM may take to start its attach listener after SIGQUIT',
      intOption('--attach-timeout-ms', 1, 600_000),
      DEFAULT_SOCKET_WAIT_MS,
    )
    .option('--no-thread-cpu', 'do not read per-thread CPU of local JVMs from /proc')
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
  const headers: Record<string, string> = {};
  if (flags.secretFile !== undefined) {
    try {
      headers['Authorization'] = `Bearer ${adminToken(readSecretFile(flags.secretFile))}`;
    } catch (err) {
      if (err instanceof NodeConfigError) throw new UsageError(err.message);
      throw err;
    }
  }
  const explicit: TargetSpec[] = [
    ...(flags.url ?? []).map((v) => named('--url', v, 'url')),
    ...(flags.jvm ?? []).map((v) => named('--jvm', v, 'jvm')),
    ...(flags.cmd ?? []).map((v) => named('--cmd', v, 'cmd')),
  ];
  if (flags.targets !== undefined) explicit.push(...(await readTargets(flags.targets)));
  const agents = (flags.agent ?? []).map((v) => {
    const { name, value } = namedValue('--agent', v);
    return { name, url: value };
  });
  let targets: TargetSpec[];
  try {
    const resolved = await resolveTargets({
      explicit,
      jvmMatch: flags.jvmMatch ?? [],
      agents,
      ssh: flags.ssh ?? [],
      kubectl: flags.kubectl ?? [],
      local: flags.local === true,
      headers,
    });
    targets = resolved.targets;
    for (const n of resolved.notes) process.stderr.write(`rollcall: ${n}\n`);
  } catch (err) {
    if (err instanceof ResolveError) throw new UsageError(err.message);
    throw err;
  }
  const options: CaptureOptions = {
    targets,
    intervalMs: flags.interval,
    count: flags.count,
    outDir: flags.out,
    timeoutMs: flags.timeoutMs,
    socketWaitMs: flags.attachTimeoutMs,
    jvmMethod: flags.jvmMethod,
    threadCpu: flags.threadCpu && process.platform === 'linux',
    headers,
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

/** NAME=VALUE of a flag, as a usage error (exit 2 with the message) when malformed. */
function namedValue(flag: string, v: string): { name: string; value: string } {
  try {
    return parseNamed(flag, v);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

function named(flag: string, v: string, kind: TargetSpec['kind']): TargetSpec {
  const { name, value } = namedValue(flag, v);
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
