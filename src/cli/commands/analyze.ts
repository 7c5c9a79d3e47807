// `rollcall analyze`: blocked vs slow, exhausted pools and circular waits across nodes, from a
// capture bundle, dump files, or --node NAME=FILE samples. Files are parsed one round at a time
// and dropped once analyzed, so memory follows one round of the cluster, not the whole capture.
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, extname, resolve } from 'node:path';
import { Command, Option } from 'commander';
import { readBundle } from '../../dumps/bundle.js';
import type { ProcessDump, UnparsedLine } from '../../dumps/model.js';
import { parseDumpFileSync } from '../../dumps/parse.js';
import { Analyzer } from '../../diagnose/analyze.js';
import { parseRules, RulesError, MAX_RULES_FILE_BYTES, type RulePack } from '../../diagnose/rules.js';
import type { AnalysisResult } from '../../diagnose/result.js';
import { renderHtmlReport } from '../../report/html/index.js';
import { renderJson } from '../../report/json.js';
import { renderTerminal } from '../../report/terminal.js';
import { FindingExit, UsageError } from '../errors.js';
import { choiceOption, collect, parseNamed } from '../options.js';

const MAX_INPUTS = 1_000_000;
const MAX_UNPARSED_SHOWN = 200;

interface AnalyzeFlags {
  node?: string[];
  nodeAddr?: string[];
  rules?: string;
  json?: boolean;
  failOn?: 'deadlock' | 'stuck';
  showUnparsed?: boolean;
  detail?: boolean;
  html?: string;
}

/** One node's samples: files in order (a file may hold several dumps: consecutive samples). */
interface NodeSource {
  name: string;
  /** Bundle: the file of each round (undefined when that capture wrote nothing). */
  byRound?: (string | undefined)[];
  /** Files and --node: every dump of every file, in order. */
  files?: string[];
  /** Dumps parsed but not yet used, and where the next file is. */
  pending: ProcessDump[];
  nextFile: number;
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
    .option('--rules <FILE>', 'extra rules (pools, idle frames, waits, roles) as JSON; see below')
    .option('--json', 'print the result as JSON')
    .addOption(
      new Option('--fail-on <WHAT>', 'exit 1 when the verdict is this or worse').argParser(
        choiceOption('--fail-on', ['deadlock', 'stuck'] as const),
      ),
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
the dumps for the whole span, or a pool exhausted with no progress), slow (pools saturated but
progressing), healthy. Samples are aligned by round (bundle) or by order.

Built-in rules: HBase (RPC handler pools, blocking stub calls to master/region servers, barrier
procedures), Hadoop IPC, gRPC-java blocking stubs, rollcall's own dumps (explicit links).
--rules FILE (JSON; at most ${MAX_RULES_FILE_BYTES} bytes):
  { "pools":  [{ "threadName": "^worker-(?<handler>\\\\d+)$", "pool": "workers" }],
    "idle":   [{ "frame": "^com\\\\.example\\\\.Jobs\\\\.await$", "within": 8 }],
    "waits":  [{ "frame": "^com\\\\.example\\\\.Client\\\\.callSync$", "via": "Stub\\\\.", "kind": "rpc",
                 "target": { "role": "master", "pool": "^workers$" } }],
    "roles":  [{ "role": "master", "nodeName": "^master" }] }
  Target selects nodes by "node", "role", "peers": true, "self": false, then a "pool" regex (waits
  for any handler), "threads" regex (any busy thread), or "members": true (a barrier: all nodes).
  Regexes match frames as pkg.Class.method and thread names.

Exit status: 0, or 1 with --fail-on when found, 2 on bad input.`,
    )
    .action((inputs: string[], flags: AnalyzeFlags) => runAnalyze(inputs, flags));
}

async function runAnalyze(inputs: string[], flags: AnalyzeFlags): Promise<void> {
  const nodeAddrs = (flags.nodeAddr ?? []).map((v) => {
    const { name, value } = parseNamed('--node-addr', v);
    if (!/^[^\s:]+(?::\d{1,5})$|^\[[0-9a-fA-F:]+\]:\d{1,5}$/.test(value))
      throw new UsageError(`--node-addr takes NAME=HOST:PORT, not '${v}'`);
    return { node: name, addr: value };
  });
  const rules: RulePack[] = [];
  if (flags.rules !== undefined) {
    let text: string;
    try {
      if (statSync(flags.rules).size > MAX_RULES_FILE_BYTES) throw new Error(`over ${MAX_RULES_FILE_BYTES} bytes`);
      text = readFileSync(flags.rules, 'utf8');
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
  const { sources, roundTimes } = await collectSources(inputs, flags.node ?? [], nodeAddrs);
  // The HTML report draws the graph and every thread's stacks, so it always needs the detail.
  const detail = flags.html !== undefined || (flags.detail === true && flags.json === true);
  const analyzer = new Analyzer({ rules, nodeAddrs, detail });
  const unparsed: { node: string; file: string; lines: UnparsedLine[] }[] = [];
  const warnings: string[] = [];
  const keepUnparsed = flags.showUnparsed === true;
  let dumpsSeen = 0;
  for (let round = 0; ; round++) {
    const dumps: ProcessDump[] = [];
    let more = false;
    for (const src of sources) {
      const d = nextSample(src, round, keepUnparsed, unparsed, warnings, analyzer);
      if (d === 'done') continue;
      more = true;
      if (d !== undefined) dumps.push(d);
    }
    if (!more) break;
    if (dumps.length === 0) continue;
    dumpsSeen += dumps.length;
    const at = roundTimes[round];
    analyzer.addRound(dumps, at !== undefined ? { capturedAtMs: at } : {});
  }
  for (const w of warnings) process.stderr.write(`rollcall analyze: ${w}\n`);
  if (dumpsSeen === 0) throw new UsageError('no thread dumps found in the inputs');
  const result = analyzer.finish();
  let htmlFile: string | undefined;
  if (flags.html !== undefined) {
    const file = (htmlFile = resolve(flags.html));
    const html = renderHtmlReport(result, {
      title: `rollcall analysis — ${inputs.length === 1 ? basename(inputs[0]!) : `${sources.length} nodes`}`,
      footer: `generated by rollcall analyze · ${new Date().toISOString()}`,
    });
    try {
      writeFileSync(file, html);
    } catch (err) {
      throw new UsageError(`cannot write --html ${flags.html}: ${(err as Error).message}`);
    }
  }
  if (flags.json === true) {
    process.stdout.write(
      renderJson(result, { detail: flags.detail === true, ...(keepUnparsed ? { extra: { unparsed } } : {}) }),
    );
  } else {
    const color = process.stdout.isTTY === true && process.env['NO_COLOR'] === undefined;
    process.stdout.write(renderTerminal(result, { color }));
    if (keepUnparsed) process.stdout.write(renderUnparsed(unparsed));
  }
  // With --json, stdout is the JSON document alone; the path goes to stderr.
  if (htmlFile !== undefined) (flags.json === true ? process.stderr : process.stdout).write(`HTML report: ${htmlFile}\n`);
  failOn(result, flags.failOn);
}

function failOn(result: AnalysisResult, what: AnalyzeFlags['failOn']): void {
  if (what === undefined) return;
  if (result.verdict === 'deadlock' || (what === 'stuck' && result.verdict === 'stuck')) {
    throw new FindingExit(`verdict ${result.verdict}`);
  }
}

async function collectSources(
  inputs: string[],
  nodeFlags: string[],
  nodeAddrs: { node: string; addr: string }[],
): Promise<{ sources: NodeSource[]; roundTimes: (number | undefined)[] }> {
  if (inputs.length + nodeFlags.length === 0)
    throw new UsageError('give a bundle directory, dump files, or --node NAME=FILE');
  if (inputs.length + nodeFlags.length > MAX_INPUTS) throw new UsageError(`at most ${MAX_INPUTS} inputs`);
  const byName = new Map<string, NodeSource>();
  const roundTimes: (number | undefined)[] = [];
  const source = (name: string): NodeSource => {
    let s = byName.get(name);
    if (s === undefined) byName.set(name, (s = { name, files: [], pending: [], nextFile: 0 }));
    return s;
  };
  const dirs = inputs.filter((p) => isDirectory(p));
  if (dirs.length > 0) {
    if (inputs.length > 1 || nodeFlags.length > 0)
      throw new UsageError('a bundle directory is analyzed on its own (no other inputs)');
    let bundle;
    try {
      bundle = await readBundle(dirs[0]!);
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    for (const n of bundle.nodes) {
      const s: NodeSource = { name: n.name, byRound: [], pending: [], nextFile: 0 };
      for (const sample of n.samples) if (sample.file !== undefined) s.byRound![sample.round] = sample.file;
      byName.set(n.name, s);
      if (n.addr !== undefined && !nodeAddrs.some((a) => a.node === n.name))
        nodeAddrs.push({ node: n.name, addr: n.addr });
    }
    for (const r of bundle.rounds) roundTimes[r.round] = Number.isFinite(r.scheduledAt) ? r.scheduledAt : undefined;
    return { sources: [...byName.values()], roundTimes };
  }
  const taken = new Set<string>();
  for (const file of inputs) {
    const base = basename(file, extname(file)) || file;
    let name = base;
    for (let i = 2; taken.has(name); i++) name = `${base}-${i}`;
    taken.add(name);
    source(name).files!.push(file);
  }
  for (const v of nodeFlags) {
    const { name, value } = parseNamed('--node', v);
    source(name).files!.push(value);
  }
  return { sources: [...byName.values()], roundTimes };
}

function isDirectory(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch (err) {
    throw new UsageError(`cannot read ${p}: ${(err as Error).message}`);
  }
}

/** The node's sample for this round: a dump, undefined (none this round), or 'done'. */
function nextSample(
  src: NodeSource,
  round: number,
  keepUnparsed: boolean,
  unparsed: { node: string; file: string; lines: UnparsedLine[] }[],
  warnings: string[],
  analyzer: Analyzer,
): ProcessDump | undefined | 'done' {
  if (src.byRound !== undefined) {
    if (round >= src.byRound.length) return 'done';
    const file = src.byRound[round];
    if (file === undefined) return undefined;
    const dumps = parseFile(src.name, file, keepUnparsed, unparsed, warnings, analyzer);
    if (dumps.length > 1) warnings.push(`${file}: ${dumps.length} dumps in one capture; the first is used`);
    return dumps[0];
  }
  while (src.pending.length === 0) {
    if (src.nextFile >= src.files!.length) return 'done';
    const file = src.files![src.nextFile++]!;
    src.pending = parseFile(src.name, file, keepUnparsed, unparsed, warnings, analyzer);
  }
  return src.pending.shift();
}

function parseFile(
  node: string,
  file: string,
  keepUnparsed: boolean,
  unparsed: { node: string; file: string; lines: UnparsedLine[] }[],
  warnings: string[],
  analyzer: Analyzer,
): ProcessDump[] {
  let r;
  try {
    r = parseDumpFileSync(file, { keepUnparsed, maxUnparsedListed: MAX_UNPARSED_SHOWN });
  } catch (err) {
    throw new UsageError(`cannot read ${file}: ${(err as Error).message}`);
  }
  if (r.dumps.length === 0) warnings.push(`${file}: no thread dump found (${r.format}, ${r.totalLines} lines)`);
  if (keepUnparsed && r.unparsed.length > 0) unparsed.push({ node, file, lines: r.unparsed });
  // A file named for a node speaks for that node; the name the dump gives itself (rollcall's
  // `node=`) is how its peers' dumps refer to it, so keep it as an alias.
  for (const d of r.dumps) {
    analyzer.alias(d.node, node);
    d.node = node;
  }
  return r.dumps;
}

function renderUnparsed(list: { node: string; file: string; lines: UnparsedLine[] }[]): string {
  if (list.length === 0) return '\nUnparsed lines: none\n';
  const out = ['', 'Unparsed lines'];
  for (const u of list) for (const l of u.lines) out.push(`  ${u.file}:${l.line}: ${l.text}`);
  return out.join('\n') + '\n';
}
