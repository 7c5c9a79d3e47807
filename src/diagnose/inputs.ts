// Reading what `rollcall analyze` is given — a capture bundle, dump files, or --node NAME=FILE
// samples — and feeding it to the Analyzer one round at a time. Parsing runs ahead on a pool of
// worker threads (src/dumps/feed.ts) while the Analyzer consumes rounds in order; parsed dumps are
// dropped once analyzed, so memory follows a few rounds of the cluster, not the whole capture.
// Shared by the CLI and the demo.
import { statSync } from 'node:fs';
import { basename, extname } from 'node:path';
import { readBundle, type BundleNode } from '../dumps/bundle.js';
import { DumpFeed, FeedInputError, inputBytes, type FeedSource, type FileDone } from '../dumps/feed.js';
import { defaultFrameTable } from '../dumps/frames.js';
import type { ProcessDump, UnparsedLine } from '../dumps/model.js';
import { estimateInputBytes, IN_THREAD_MAX_BYTES, parseWorkersFor } from '../dumps/worker-start.js';
import type { Analyzer } from './analyze.js';
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
  /** Parsing threads; by default one per core for large inputs, none for small ones (see parseWorkersFor). */
  workers?: number;
  /** Called after each round is analyzed: input bytes parsed so far, of `totalBytes` when known. */
  onProgress?: (p: { rounds: number; parsedBytes: number; totalBytes: number | undefined }) => void;
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
  let analyzer: Analyzer | undefined;
  const unparsed: AnalyzedInputs['unparsed'] = [];
  const keepUnparsed = options.keepUnparsed === true;
  const onFile = (f: FileDone): void => {
    const src = sources[f.source]!;
    if (f.dumps === 0) warnings.push(`${f.file}: no thread dump found (${f.format}, ${f.totalLines} lines)`);
    if (keepUnparsed && f.unparsed.length > 0) unparsed.push({ node: src.name, file: f.file, lines: f.unparsed });
    if (src.byRound !== undefined && f.dumps > 1)
      warnings.push(`${f.file}: ${f.dumps} dumps in one capture; the first is used`);
    for (const name of f.dumpNodes) analyzer?.alias(name, src.name);
  };
  const paths = sources.flatMap((s) => s.byRound ?? s.files ?? []);
  // The progress line shows the total; without it only "is the input large" matters, which a
  // bounded look answers without a stat of every file.
  const totalBytes = options.onProgress !== undefined ? inputBytes(paths) : undefined;
  const sized = totalBytes ?? estimateInputBytes(paths, IN_THREAD_MAX_BYTES);
  const feed = new DumpFeed(sources, {
    keepUnparsed,
    maxUnparsedListed: MAX_UNPARSED_SHOWN,
    frames: defaultFrameTable,
    workers: options.workers ?? parseWorkersFor(sized, true),
    onFile,
  });
  let dumpsSeen = 0;
  try {
    // Parsing starts now, while the analysis loads (a few dozen modules): the workers are the
    // critical path of a large input. onFile runs inside feed.next, once the analyzer exists.
    feed.prime();
    const { Analyzer, MAX_ROUNDS } = await import('./analyze.js');
    const { attachCpuSidecar } = await import('../dumps/thread-cpu.js');
    const a = (analyzer = new Analyzer({
      rules: options.rules ?? [],
      nodeAddrs,
      detail: options.detail === true,
      ...(options.explain !== undefined ? { explain: options.explain } : {}),
      ...(options.predict === true ? { predict: true } : {}),
    }));
    for (let round = 0; ; round++) {
      // Each dump is analyzed as it arrives (Analyzer.addDump): a round's dumps are not held together.
      const at = roundTimes[round];
      const meta = at !== undefined ? { capturedAtMs: at } : {};
      let more = false;
      let inRound = 0;
      for (let s = 0; s < sources.length; s++) {
        const d = await nextSample(feed, s);
        if (d === 'done') continue;
        more = true;
        if (d === null) continue;
        if (inRound++ === 0 && a.roundCount >= MAX_ROUNDS)
          throw new InputError(`more than ${MAX_ROUNDS} samples of one node; analyze fewer dumps at a time`);
        a.addDump(prepareDump(d, sources[s]!, round, a, attachCpuSidecar), meta);
      }
      if (!more) break;
      if (inRound === 0) continue;
      dumpsSeen += inRound;
      a.endRound();
      options.onProgress?.({ rounds: a.roundCount, parsedBytes: feed.parsedBytes, totalBytes });
    }
  } catch (err) {
    await feed.close();
    throw err;
  }
  // The parsing threads end while the analysis finishes.
  const closing = feed.close();
  try {
    if (dumpsSeen === 0 || analyzer === undefined) throw new InputError('no thread dumps found in the inputs');
    return { result: analyzer.finish(), warnings, unparsed };
  } finally {
    await closing;
  }
}

async function nextSample(feed: DumpFeed, source: number): Promise<ProcessDump | null | 'done'> {
  try {
    return await feed.next(source);
  } catch (err) {
    if (err instanceof FeedInputError) throw new InputError(err.message);
    throw err;
  }
}

/**
 * The one place a parsed dump is completed before analysis: it takes its node's name, keeping the
 * name it gave itself as an alias (a file named for a node speaks for that node; the name the dump
 * gives itself, rollcall's `node=`, is how its peers' dumps refer to it). Facts read from beside
 * the dump (a bundle's sidecar files) are attached here too.
 */
function prepareDump(
  d: ProcessDump,
  src: NodeSource,
  round: number,
  analyzer: Analyzer,
  attachCpuSidecar: (d: ProcessDump, file: string) => void,
): ProcessDump {
  analyzer.alias(d.node, src.name);
  d.node = src.name;
  // A bundle's capture may have a per-thread CPU sample beside its dump file.
  const file = src.byRound?.[round];
  if (file !== undefined) attachCpuSidecar(d, file);
  return d;
}

/** One node's samples: its files in order, or a bundle's file per round. */
type NodeSource = FeedSource;

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
    if (s === undefined) byName.set(name, (s = { name, files: [] }));
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
      const s: NodeSource = { name: n.name, byRound: [] };
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
