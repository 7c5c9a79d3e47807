// `rollcall analyze`: blocked vs slow, exhausted pools and circular waits across nodes, from a
// capture bundle, dump files, or --node NAME=FILE samples. Files are parsed on worker threads
// ahead of the analysis, which takes them a round at a time and drops them once analyzed, so
// memory follows a few rounds of the cluster, not the whole capture. The analysis and the report
// renderers load when the command runs, not for --help.
import { writeFileSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import type { UnparsedLine } from '../../dumps/model.js';
import { stopStartedWorkers } from '../../dumps/worker-start.js';
import type { RulePack } from '../../diagnose/rules.js';
import type { AnalysisResult } from '../../diagnose/result.js';
import { FindingExit, UsageError } from '../errors.js';
import { choiceOption, collect, parseNamed } from '../options.js';

/**
 * rules.ts's MAX_RULES_FILE_BYTES, restated for --help, which then needs neither the rules module
 * nor zod (test/diagnose/inputs.test.ts keeps the two equal).
 */
const RULES_FILE_HELP_BYTES = 1024 * 1024;

interface AnalyzeFlags {
  node?: string[];
  nodeAddr?: string[];
  rules?: string;
  json?: boolean;
  failOn?: 'deadlock' | 'stuck' | 'prediction';
  predict?: boolean;
  showUnparsed?: boolean;
  detail?: boolean;
  html?: string;
  explain?: string[];
}

export function registerAnalyze(program: Command): void {
  program
    .command('analyze')
    .description(
      'Analyze thread dumps of one or many processes: blocked vs slow threads, exhausted pools, and deadlocks — including circular waits across processes through RPC pools.',
    )
    .argument(
      '[INPUT...]',
      'a capture bundle directory, or dump files (one node each; several dumps in a file = samples)',
    )
    .option(
      '--node <NAME=FILE>',
      "a node's dump file; the same NAME again = that node's next sample; repeatable",
      collect,
    )
    .option('--node-addr <NAME=HOST:PORT>', 'where a node listens, to resolve calls between nodes; repeatable', collect)
    .option('--rules <FILE>', 'extra rules (pools, idle frames, waits, services, roles) as JSON; see below')
    .option(
      '--explain <NODE/THREAD>',
      "print the evidence behind a thread's class (stuck, waiting, idle, progressing); repeatable",
      collect,
    )
    .option(
      '--predict',
      'also predict latent deadlocks: cycles of the observed waits through a bounded pool, and the load or cluster size at which they fire',
    )
    .option('--json', 'print the result as JSON')
    .addOption(
      new Option(
        '--fail-on <WHAT>',
        'exit 1 when the verdict is this or worse (deadlock, stuck), or with --predict when a deadlock is predicted (prediction)',
      ).argParser(choiceOption('--fail-on', ['deadlock', 'stuck', 'prediction'] as const)),
    )
    .option('--show-unparsed', 'list the dump lines the parsers did not understand')
    .option('--detail', "with --json: also every thread's stack per sample and the wait-for graph")
    .option(
      '--html <FILE>',
      'also write a self-contained HTML report (graph, heatmap, per-thread stacks) to FILE; prints its path',
    )
    .addHelpText(
      'after',
      `
Verdicts: deadlock (a circular wait, non-live in every sample), stuck (blocked on something outside
the dumps for the whole span, or a pool exhausted by stuck handlers), slow (a pool without an idle
handler in most samples, but progressing), healthy. Samples are aligned by round (bundle) or by order.

Threads: blocked (parked in every sample on something that should already have happened: a lock
another thread owns, an outbound call, a barrier, a full pool), running-stuck (RUNNABLE in the same
place, no CPU progress), waiting (parked with nothing linking the wait — a queue, a timer, a join:
not stuck, listed apart), progressing, idle (waiting for work).

Calls are linked by service: a blocking stub call (gRPC, protobuf/HBase, Hadoop IPC, Thrift, RMI)
waits for the threads the dumps show serving that method, or the pools seen serving that service.
Pools are found by name and by executor frames (ThreadPoolExecutor$Worker, ForkJoinWorkerThread).
Built-in rules: HBase (RPC handler pools, blocking stub calls to master/region servers, barrier
procedures), Hadoop IPC, gRPC-java, rollcall's own dumps (explicit links).
--rules FILE (JSON; at most ${RULES_FILE_HELP_BYTES} bytes):
  { "pools":  [{ "threadName": "^worker-(?<handler>\\\\d+)$", "pool": "workers" }],
    "idle":   [{ "frame": "^com\\\\.example\\\\.Jobs\\\\.await$", "within": 8 }],
    "waits":  [{ "frame": "^com\\\\.example\\\\.Client\\\\.callSync$", "via": "Stub\\\\.", "kind": "rpc",
                 "target": { "role": "master", "pool": "^workers$" } }],
    "services": [{ "service": "^Orders$", "target": { "node": "orders", "pool": "^pool-1$" } }],
    "roles":  [{ "role": "master", "nodeName": "^master" }] }
  Target selects nodes by "node", "role", "peers": true, "self": false, then a "pool" regex (waits
  for any handler), "threads" regex (any busy thread), or "members": true (a barrier: all nodes).
  Regexes match frames as pkg.Class.method and thread names. "services" say who serves a service
  the dumps never show dispatched; pools may add "size" (capacity) or "unbounded": true.

--predict folds every wait the samples show into class-level edges: "a thread of pool P on a node
of role R, serving method M, waits on X" (a call to a service/method, a lock, a barrier's members).
A cycle through a bounded pool P that comes back into P through a call is a latent deadlock: it
fires once P's handlers can all be parked on it — firesAtConcurrency = P's size minus the handlers
other requests hold on it, and firesAtNodes when the requests come per node of a calling role.
Capture a healthy staging cluster for many rounds (each wait must be caught by a sample), then:
  rollcall analyze BUNDLE --predict [--json]   "predictions":[{"pool","node","role","size","path",
  "firesAtConcurrency","firesAtNodes"?,"evidence","confidence",…}]

Exit status: 0, or 1 with --fail-on when found, 2 on bad input.`,
    )
    .action((inputs: string[], flags: AnalyzeFlags) => runAnalyze(inputs, flags));
}

async function runAnalyze(inputs: string[], flags: AnalyzeFlags): Promise<void> {
  // bin.ts started this input's parsing threads before the CLI loaded; the pool takes them, and
  // any it did not take (a small input, a failure first) end here.
  try {
    await analyze(inputs, flags);
  } finally {
    await stopStartedWorkers();
  }
}

async function analyze(inputs: string[], flags: AnalyzeFlags): Promise<void> {
  if (flags.failOn === 'prediction' && flags.predict !== true)
    throw new UsageError('--fail-on prediction needs --predict');
  const nodeAddrs = (flags.nodeAddr ?? []).map((v) => {
    let named;
    try {
      named = parseNamed('--node-addr', v);
    } catch (err) {
      if (err instanceof InvalidArgumentError) throw new UsageError(`--node-addr takes NAME=HOST:PORT, not '${v}'`);
      throw err;
    }
    const { name, value } = named;
    if (!/^[^\s:]+(?::\d{1,5})$|^\[[0-9a-fA-F:]+\]:\d{1,5}$/.test(value))
      throw new UsageError(`--node-addr takes NAME=HOST:PORT, not '${v}'`);
    return { node: name, addr: value };
  });
  const rules: RulePack[] = [];
  if (flags.rules !== undefined) {
    const { parseRules, RulesError, MAX_RULES_FILE_BYTES } = await import('../../diagnose/rules.js');
    const { readFileBounded } = await import('../../dumps/parse.js');
    let text: string;
    try {
      text = readFileBounded(flags.rules, MAX_RULES_FILE_BYTES).toString('utf8');
    } catch (err) {
      throw new UsageError(`cannot read --rules ${flags.rules}: ${(err as Error).message}`);
    }
    try {
      rules.push(parseRules(text, flags.rules));
    } catch (err) {
      if (err instanceof RulesError) throw new UsageError(err.message);
      throw err;
    }
  }
  // The HTML report draws the graph and every thread's stacks, so it always needs the detail.
  const detail = flags.html !== undefined || (flags.detail === true && flags.json === true);
  const keepUnparsed = flags.showUnparsed === true;
  // The analysis modules load inside analyzeInputs, once parsing has started.
  const { analyzeInputs, InputError } = await import('../../diagnose/inputs.js');
  const progress = await progressLine();
  let analyzed;
  try {
    analyzed = await analyzeInputs(inputs, {
      nodeFlags: flags.node ?? [],
      nodeAddrs,
      rules,
      detail,
      keepUnparsed,
      ...(flags.explain !== undefined ? { explain: flags.explain } : {}),
      ...(flags.predict === true ? { predict: true } : {}),
      ...(progress !== undefined ? { onProgress: progress.update } : {}),
    });
  } catch (err) {
    const { ExplainError } = await import('../../diagnose/analyze.js');
    if (err instanceof InputError || err instanceof ExplainError) throw new UsageError((err as Error).message);
    throw err;
  } finally {
    progress?.stop();
  }
  const { result, unparsed, warnings } = analyzed;
  for (const w of warnings) process.stderr.write(`rollcall analyze: ${w}\n`);
  let htmlFile: string | undefined;
  if (flags.html !== undefined) {
    const file = (htmlFile = resolve(flags.html));
    const { renderHtmlReport } = await import('../../report/html/index.js');
    const html = renderHtmlReport(result, {
      title: `rollcall analysis — ${inputs.length === 1 ? basename(inputs[0]!) : `${result.nodes.length} nodes`}`,
      footer: `generated by rollcall analyze · ${new Date().toISOString()}`,
    });
    try {
      writeFileSync(file, html);
    } catch (err) {
      throw new UsageError(`cannot write --html ${flags.html}: ${(err as Error).message}`);
    }
  }
  if (flags.json === true) {
    const { renderJson } = await import('../../report/json.js');
    process.stdout.write(
      renderJson(result, { detail: flags.detail === true, ...(keepUnparsed ? { extra: { unparsed } } : {}) }),
    );
  } else {
    const color = process.stdout.isTTY === true && process.env['NO_COLOR'] === undefined;
    const { renderTerminal } = await import('../../report/terminal.js');
    process.stdout.write(renderTerminal(result, { color }));
    if (keepUnparsed) process.stdout.write(renderUnparsed(unparsed));
  }
  // With --json, stdout is the JSON document alone; the path goes to stderr.
  if (htmlFile !== undefined)
    (flags.json === true ? process.stderr : process.stdout).write(`HTML report: ${htmlFile}\n`);
  failOn(result, flags.failOn);
}

/** Progress on a terminal (stderr), for inputs that take more than a moment. */
async function progressLine(): Promise<
  | { update: (p: { rounds: number; parsedBytes: number; totalBytes: number | undefined }) => void; stop: () => void }
  | undefined
> {
  if (process.stderr.isTTY !== true) return undefined;
  const { default: cliProgress } = await import('cli-progress');
  const bar = new cliProgress.SingleBar(
    {
      format: 'analyze [{bar}] {mb} MB parsed | {rounds} samples',
      stream: process.stderr,
      hideCursor: true,
      clearOnComplete: true,
    },
    cliProgress.Presets.shades_classic,
  );
  const startedAtMs = Date.now();
  let shown = false;
  return {
    update: ({ rounds, parsedBytes, totalBytes }) => {
      const mb = Math.round(parsedBytes / 1e6);
      // Only inputs that take a while get a bar; quick ones print nothing extra.
      if (!shown && Date.now() - startedAtMs < PROGRESS_AFTER_MS) return;
      if (!shown) bar.start(Math.max(1, Math.round((totalBytes ?? parsedBytes) / 1e6)), mb, { mb, rounds });
      shown = true;
      if (totalBytes === undefined) bar.setTotal(Math.max(mb, 1));
      bar.update(mb, { mb, rounds });
    },
    stop: () => {
      if (shown) bar.stop();
    },
  };
}

const PROGRESS_AFTER_MS = 1000;

function failOn(result: AnalysisResult, what: AnalyzeFlags['failOn']): void {
  if (what === undefined) return;
  if (what === 'prediction' && (result.predictions?.length ?? 0) > 0) {
    throw new FindingExit(`${result.predictions!.length} latent deadlock(s) predicted`);
  }
  if (result.verdict === 'deadlock' || (what === 'stuck' && result.verdict === 'stuck')) {
    throw new FindingExit(`verdict ${result.verdict}`);
  }
}

function renderUnparsed(list: { node: string; file: string; lines: UnparsedLine[] }[]): string {
  if (list.length === 0) return '\nUnparsed lines: none\n';
  const out = ['', 'Unparsed lines'];
  for (const u of list) for (const l of u.lines) out.push(`  ${u.file}:${l.line}: ${l.text}`);
  return out.join('\n') + '\n';
}
