// Reading what `rollcall analyze` is given — a capture bundle, dump files, or --node NAME=FILE
// samples — and feeding it to the Analyzer one round at a time. Files are parsed round by round
// and dropped once analyzed, so memory follows one round of the cluster, not the whole capture.
// Shared by the CLI and the demo.
import { statSync } from 'node:fs';
import { basename, extname } from 'node:path';
import { readBundle, type BundleNode } from '../dumps/bundle.js';
import type { ProcessDump, UnparsedLine } from '../dumps/model.js';
import { parseDumpFileSync } from '../dumps/parse.js';
import { attachCpuSidecar } from '../dumps/thread-cpu.js';
import { Analyzer } from './analyze.js';
import { HotThreads } from './hot-threads.js';
import type { AnalysisResult } from './result.js';
import type { RulePack } from './rules.js';

export const MAX_INPUTS = 1_000_000;
export const MAX_UNPARSED_SHOWN = 200;

/** Unreadable or contradictory inputs: the CLI reports these as bad usage (exit 2). */
export class InputError extends Error {
  override name = 'InputError';
}

export interface AnalyzeInputsOptions {
  /** --node NAME=FILE values, in order (the same NAME again is that node's next sample). */
  nodeFlags?: string[];
  /** Known node addresses; a bundle's manifest adds its own. */
  nodeAddrs?: { node: string; addr: string }[];
  rules?: RulePack[];
  detail?: boolean;
  keepUnparsed?: boolean;
  /** `--explain NODE/THREAD` values. */
  explain?: string[];
  /** `--predict`: latent deadlocks from the class-level waits. */
  predict?: boolean;
}

export interface AnalyzedInputs {
  result: AnalysisResult;
  warnings: string[];
  unparsed: { node: string; file: string; lines: UnparsedLine[] }[];
}

export async function analyzeInputs(inputs: string[], options: AnalyzeInputsOptions = {}): Promise<AnalyzedInputs> {
  const nodeAddrs = [...(options.nodeAddrs ?? [])];
  const warnings: string[] = [];
  const { sources, roundTimes } = await collectSources(inputs, options.nodeFlags ?? [], nodeAddrs, warnings);
  const analyzer = new Analyzer({
    rules: options.rules ?? [],
    nodeAddrs,
    detail: options.detail === true,
    ...(options.explain !== undefined ? { explain: options.explain } : {}),
    ...(options.predict === true ? { predict: true } : {}),
  });
  const hot = new HotThreads();
  const unparsed: AnalyzedInputs['unparsed'] = [];
  const keepUnparsed = options.keepUnparsed === true;
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
    hot.addRound(dumps, at);
  }
  if (dumpsSeen === 0) throw new InputError('no thread dumps found in the inputs');
  return { result: { ...analyzer.finish(), hotThreads: hot.finish() }, warnings, unparsed };
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

async function collectSources(
  inputs: string[],
  nodeFlags: string[],
  nodeAddrs: { node: string; addr: string }[],
  warnings: string[],
): Promise<{ sources: NodeSource[]; roundTimes: (number | undefined)[] }> {
  if (inputs.length + nodeFlags.length === 0)
    throw new InputError('give a bundle directory, dump files, or --node NAME=FILE');
  if (inputs.length + nodeFlags.length > MAX_INPUTS) throw new InputError(`at most ${MAX_INPUTS} inputs`);
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
      throw new InputError('a bundle directory is analyzed on its own (no other inputs)');
    let bundle;
    try {
      bundle = await readBundle(dirs[0]!);
    } catch (err) {
      throw new InputError((err as Error).message);
    }
    for (const n of bundle.nodes) {
      const s: NodeSource = { name: n.name, byRound: [], pending: [], nextFile: 0 };
      for (const sample of n.samples) if (sample.file !== undefined) s.byRound![sample.round] = sample.file;
      byName.set(n.name, s);
      if (n.addr !== undefined && !nodeAddrs.some((a) => a.node === n.name))
        nodeAddrs.push({ node: n.name, addr: n.addr });
    }
    for (const r of bundle.rounds) roundTimes[r.round] = Number.isFinite(r.scheduledAt) ? r.scheduledAt : undefined;
    warnings.push(...captureWarnings(bundle.nodes, bundle.rounds.length));
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
    const i = v.indexOf('=');
    if (i <= 0 || i === v.length - 1) throw new InputError(`--node takes NAME=FILE, not '${v}'`);
    const name = v.slice(0, i);
    const value = v.slice(i + 1);
    source(name).files!.push(value);
  }
  return { sources: [...byName.values()], roundTimes };
}

/** Failed captures listed in warnings before this many are summarized by a count. */
const MAX_CAPTURE_ERRORS_LISTED = 5;

/**
 * What a bundle lacks, said out loud: failed captures, and rounds where no node's dump was
 * captured (an analysis cannot include a round without dumps, so it would otherwise just have
 * one sample fewer than the capture was asked for).
 */
function captureWarnings(nodes: BundleNode[], roundCount: number): string[] {
  const failed = nodes.flatMap((n) =>
    n.samples.filter((s) => s.file === undefined).map((s) => ({ node: n.name, round: s.round, error: s.error })),
  );
  if (failed.length === 0) return [];
  const listed = failed
    .slice(0, MAX_CAPTURE_ERRORS_LISTED)
    .map((f) => `${f.node} round ${f.round + 1}: ${f.error ?? 'no dump written'}`);
  const more = failed.length > listed.length ? `; and ${failed.length - listed.length} more` : '';
  const out = [`${failed.length} capture(s) in the bundle have no dump: ${listed.join('; ')}${more}`];
  const withDump = new Set(nodes.flatMap((n) => n.samples.filter((s) => s.file !== undefined).map((s) => s.round)));
  const empty: number[] = [];
  for (let r = 0; r < roundCount; r++) if (!withDump.has(r)) empty.push(r + 1);
  if (empty.length > 0) {
    const shown = empty.slice(0, MAX_CAPTURE_ERRORS_LISTED).join(', ');
    const rest =
      empty.length > MAX_CAPTURE_ERRORS_LISTED ? ` and ${empty.length - MAX_CAPTURE_ERRORS_LISTED} more` : '';
    out.push(
      `round${empty.length > 1 ? 's' : ''} ${shown}${rest} ${empty.length > 1 ? 'have' : 'has'} no dump from any node and ${empty.length > 1 ? 'are' : 'is'} left out of the analysis`,
    );
  }
  return out;
}

function isDirectory(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch (err) {
    throw new InputError(`cannot read ${p}: ${(err as Error).message}`);
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
    throw new InputError(`cannot read ${file}: ${(err as Error).message}`);
  }
  if (r.dumps.length === 0) warnings.push(`${file}: no thread dump found (${r.format}, ${r.totalLines} lines)`);
  if (keepUnparsed && r.unparsed.length > 0) unparsed.push({ node, file, lines: r.unparsed });
  // A file named for a node speaks for that node; the name the dump gives itself (rollcall's
  // `node=`) is how its peers' dumps refer to it, so keep it as an alias.
  for (const d of r.dumps) {
    analyzer.alias(d.node, node);
    d.node = node;
    attachCpuSidecar(d, file);
  }
  return r.dumps;
}
