// `rollcall analyze`: follow every thread of every node through the samples (tracks.ts), find what
// each waiting thread waits for (waits.ts; calls linked by service: services.ts), classify threads
// and decide with one wait-for graph per round and the liveness fixpoint what is deadlocked
// (verdict.ts), and report counts, pools and lists (summaries.ts) — and, on request, the evidence
// behind a thread's class (explain.ts) and the latent deadlocks the waits predict (predict.ts).
//
// Streaming: feed one round at a time (addRound), or one dump at a time (addDump, then endRound);
// dumps are not kept, only a few numbers per thread per round, each thread's last state, frames
// and locks, and the waits of busy waiting threads.
// Everything per stack is memoized by stack key (see stacks.ts), so cost is linear in threads.
import type { ProcessDump } from '../dumps/model.js';
import { explainTrack, findThreads } from './explain.js';
import { AnalysisState, MAX_NODES, MAX_ROUNDS, MAX_TRACKS } from './model.js';
import type { AnalysisResult, ThreadExplanation } from './result.js';
import { BUILTIN_RULES, type RulePack } from './rules.js';
import { ServiceDirectory } from './services.js';
import { hotThreads } from './hot-threads.js';
import { LatentFolder } from './predict.js';
import { analysisDetail, countThreads, summarizePools } from './summaries.js';
import { TrackIngest } from './tracks.js';
import { Prover, decideVerdict, stuckOutside } from './verdict.js';
import { WaitFinder, keptWhole, type OpenRoundWaits } from './waits.js';

export { MAX_NODES, MAX_ROUNDS, MAX_TRACKS };

export interface AnalyzeOptions {
  /** User rule packs (`--rules`); they take precedence over the built-in ones. */
  rules?: readonly RulePack[];
  /** Addresses of nodes (`--node-addr NAME=HOST:PORT`, bundle manifest). */
  nodeAddrs?: readonly { node: string; addr: string }[];
  /** Keep per-thread stacks per sample and the graph of the last round (for the HTML report). */
  detail?: boolean;
  /** Bound on `stuck` and `waiting` entries listed (the counts are always complete). Default 1000. */
  maxStuckListed?: number;
  /** `NODE/THREAD` of threads whose class to explain (`--explain`). */
  explain?: readonly string[];
  /** Fold every observed wait into class-level edges and predict latent deadlocks (`--predict`). */
  predict?: boolean;
}

/** Thrown by finish() for an --explain that names no thread of the analysis. */
export class ExplainError extends Error {
  override name = 'ExplainError';
}

/**
 * Incremental analyzer: `addRound` once per sample round (one dump per node), then `finish`.
 * `analyze()` below wraps it for callers that have everything in memory.
 */
export class Analyzer {
  private readonly state = new AnalysisState();
  private readonly directory = new ServiceDirectory();
  private readonly ingest: TrackIngest;
  private readonly waits: WaitFinder;
  private readonly latent: LatentFolder | undefined;
  /** The round whose dumps are arriving (addDump), if any. */
  private open: { waits: OpenRoundWaits; seen: Set<string>; index: number } | undefined;

  constructor(private readonly options: AnalyzeOptions = {}) {
    const packs = [...(options.rules ?? []), ...BUILTIN_RULES];
    this.ingest = new TrackIngest(this.state, packs, this.directory, options.detail === true);
    this.waits = new WaitFinder(this.state, packs, this.directory);
    this.latent = options.predict === true ? new LatentFolder(this.state) : undefined;
    for (const { node, addr } of options.nodeAddrs ?? []) this.state.node(node).addrs.add(addr);
  }

  /**
   * Dumps name peers by the names nodes give themselves (rollcall's `node=`); when a node is analyzed
   * under another name (a file name, --node NAME), record the dump's own name as an alias.
   */
  alias(dumpName: string, node: string): void {
    this.state.alias(dumpName, node);
  }

  get roundCount(): number {
    return this.state.roundCount;
  }

  /**
   * One sample round: at most one dump per node (a dump's `node` names it; empty names become
   * `node<i>`). `capturedAtMs` overrides the dumps' own timestamps for the span.
   */
  addRound(dumps: readonly ProcessDump[], meta: { capturedAtMs?: number } = {}): void {
    // A round of no dumps still counts.
    if (this.open === undefined) this.openRound(meta);
    for (const dump of dumps) this.addDump(dump, meta);
    this.endRound();
  }

  /**
   * One dump of the round being read (the first opens it), analyzed as it arrives: only what the
   * end of the round needs is kept of it (see WaitFinder.dumpWaits), so a round's dumps need not
   * be held together. `meta` is that of addRound (read when the dump opens the round).
   */
  addDump(dump: ProcessDump, meta: { capturedAtMs?: number } = {}): void {
    const state = this.state;
    const open = this.open ?? this.openRound(meta);
    const r = open.waits.r;
    const node = state.node(dump.node.length > 0 ? dump.node : `node${open.index}`);
    open.index++;
    if (open.seen.has(node.name)) {
      state.notes.add(`${node.name}: more than one dump in round ${r}; only the first was analyzed`);
      return;
    }
    open.seen.add(node.name);
    if (meta.capturedAtMs === undefined && dump.capturedAtMs !== undefined) state.time(dump.capturedAtMs);
    const ingested = this.ingest.ingest(node, dump, r, meta.capturedAtMs ?? dump.capturedAtMs);
    this.waits.dumpWaits(open.waits, ingested, this.latent !== undefined);
  }

  private openRound(meta: { capturedAtMs?: number }): NonNullable<Analyzer['open']> {
    const state = this.state;
    if (state.roundCount >= MAX_ROUNDS) throw new RangeError(`more than ${MAX_ROUNDS} sample rounds`);
    if (meta.capturedAtMs !== undefined) state.time(meta.capturedAtMs);
    return (this.open = { waits: this.waits.openRound(state.roundCount), seen: new Set(), index: 0 });
  }

  /** Ends the round addDump opened (none open: nothing to end). */
  endRound(): void {
    const open = this.open;
    if (open === undefined) return;
    this.open = undefined;
    const waits = this.waits.endRound(open.waits);
    this.state.rounds.push(waits);
    // With --predict every dump of the round was kept (dumpWaits' keepDump).
    this.latent?.round(open.waits.dumps.filter(keptWhole), open.waits.r, waits);
  }

  finish(): AnalysisResult {
    const state = this.state;
    const rounds = state.roundCount;
    const prover = new Prover(state, this.waits);
    const { deadlocks, shown, keyNonLive } = prover.prove();
    const counts = countThreads(state, this.options.maxStuckListed ?? 1000);
    const pools = summarizePools(state);
    const { verdict, reason } = decideVerdict(rounds, deadlocks, pools, stuckOutside(state));
    if (rounds === 1) state.notes.add('one sample only: blocked and slow cannot be told apart; capture several rounds');
    const partial = state.tracks.filter((t) => t.present < state.nodes[t.node]!.rounds.length && t.present > 0).length;
    if (partial > 0)
      state.notes.add(
        `${partial} thread${partial > 1 ? 's' : ''} appeared or vanished between samples (counted progressing)`,
      );
    const predictions = this.latent?.predict(this.waits);
    const explanations: ThreadExplanation[] = [];
    for (const spec of this.options.explain ?? []) {
      const found = findThreads(state, spec);
      if (typeof found === 'string') throw new ExplainError(`--explain ${found}`);
      for (const ref of found) explanations.push(explainTrack(state, prover, ref, deadlocks));
    }
    const result: AnalysisResult = {
      verdict,
      samples: rounds,
      spanMs:
        Number.isFinite(state.minTime) && state.maxTime > state.minTime ? Math.round(state.maxTime - state.minTime) : 0,
      nodes: counts.nodes,
      threads: counts.threads,
      pools,
      stuck: counts.stuck,
      stuckTotal: counts.stuckTotal,
      waiting: counts.waiting,
      waitingTotal: counts.waitingTotal,
      deadlocks,
      reason,
      notes: [...state.notes],
      hotThreads: hotThreads(state),
      ...(this.options.explain !== undefined ? { explanations } : {}),
      ...(predictions !== undefined ? { predictions } : {}),
    };
    if (this.options.detail === true)
      result.detail = analysisDetail(state, this.ingest.stackFrames, prover, shown, keyNonLive, deadlocks);
    return result;
  }
}

/** Analyzes rounds already in memory: rounds[r] holds one dump per node. */
export function analyze(rounds: Iterable<readonly ProcessDump[]>, options: AnalyzeOptions = {}): AnalysisResult {
  const a = new Analyzer(options);
  for (const round of rounds) a.addRound(round);
  return a.finish();
}

/** Groups dumps by node (in order: the k-th dump of a node is its k-th sample) and analyzes them. */
export function analyzeDumps(dumps: readonly ProcessDump[], options: AnalyzeOptions = {}): AnalysisResult {
  const byNode = new Map<string, ProcessDump[]>();
  for (const d of dumps) {
    const list = byNode.get(d.node);
    if (list === undefined) byNode.set(d.node, [d]);
    else list.push(d);
  }
  const rounds: ProcessDump[][] = [];
  for (const list of byNode.values()) list.forEach((d, k) => (rounds[k] ??= []).push(d));
  return analyze(rounds, options);
}
