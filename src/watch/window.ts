// The sliding window: the last K captured rounds, each parsed once when it arrives and kept with
// its raw bytes (the flight recorder writes those, byte for byte, into a bundle). Every window is
// analyzed by the same Analyzer `rollcall analyze` uses, fed exactly as analyze feeds a bundle:
// dumps renamed to their target, the name each dump gives itself kept as an alias, per-thread CPU
// attached, the round's scheduled instant as its time. Memory is K rounds, whatever the uptime.
import type { BundleRound, BundleTarget, CaptureRecord } from '../dumps/bundle.js';
import type { ProcessDump } from '../dumps/model.js';
import { FrameTable, StringInterner } from '../dumps/frames.js';
import { parseDumpBuffer } from '../dumps/parse.js';
import { attachThreadCpu, type ThreadCpuSample } from '../dumps/thread-cpu.js';
import { Analyzer, type AnalyzeOptions } from '../diagnose/analyze.js';
import type { AnalysisResult } from '../diagnose/result.js';
import type { RoundResult } from '../capture/index.js';
import { assert } from '../util/assert.js';

/** Largest --window: each round's dumps are kept parsed and raw. */
export const MAX_WINDOW = 30;

/** Distinct frames past which the parser starts afresh (and the window is parsed again). */
export const MAX_WATCH_FRAMES = 100_000;
/** Strings shared by the parser; past this, new strings are simply not shared (nothing else changes). */
export const MAX_WATCH_STRINGS = 100_000;

/** One captured round, parsed. */
export interface WatchRound {
  /** The watch's own round number (0, 1, …), the Capturer's round. */
  round: number;
  info: BundleRound;
  records: CaptureRecord[];
  /** One dump per node that answered with one, named after its target. */
  dumps: ProcessDump[];
  /** The name each dump gave itself → its target's name (rollcall's `node=`). */
  aliases: [string, string][];
  /** Each node's captured bytes, and CPU sample, as they came. */
  raw: Map<string, Buffer>;
  cpu: Map<string, ThreadCpuSample>;
  /** Nodes whose capture failed this round (or answered with no dump), with why. */
  failed: { node: string; error: string }[];
}

/**
 * Parses captured rounds with frame and string tables of its own. Parsers otherwise intern into
 * process-wide tables that only grow (to 2 million entries) — fine for one analysis, not for a
 * process that parses new frames (generated classes, lambdas) and names every second for months.
 * Stack keys are comparable only within one frame table, and one that is full stops sharing frames
 * (equal stacks would then look different), so well before that the window is parsed again from
 * its raw bytes into a fresh table.
 */
export class RoundParser {
  private frames = new FrameTable();
  private strings = new StringInterner(MAX_WATCH_STRINGS);
  /** Times the tables were started afresh. */
  renewals = 0;

  constructor(private readonly maxFrames = MAX_WATCH_FRAMES) {}

  /** Parses a finished round. An answer that holds no thread dump counts as a failed capture. */
  parse(result: RoundResult): WatchRound {
    const round: WatchRound = {
      round: result.round.round,
      info: result.round,
      records: result.records,
      dumps: [],
      aliases: [],
      raw: result.outputs,
      cpu: result.cpu,
      failed: [],
    };
    this.fill(round);
    return round;
  }

  /** Starts fresh tables when the current ones are past their bound; true when it did. */
  renewIfFull(): boolean {
    if (this.frames.size <= this.maxFrames) return false;
    this.frames = new FrameTable();
    this.strings = new StringInterner(MAX_WATCH_STRINGS);
    this.renewals++;
    return true;
  }

  /** Parses a kept round again (into the current tables), after a renewal. */
  reparse(round: WatchRound): void {
    round.dumps = [];
    round.aliases = [];
    round.failed = [];
    this.fill(round);
  }

  private fill(round: WatchRound): void {
    for (const rec of round.records) {
      const bytes = round.raw.get(rec.node);
      if (rec.error !== undefined || bytes === undefined) {
        round.failed.push({ node: rec.node, error: rec.error ?? 'no output' });
        continue;
      }
      let parsed: { dumps: ProcessDump[]; format: string };
      try {
        parsed = parseDumpBuffer(bytes, { frames: this.frames, strings: this.strings });
      } catch {
        parsed = { dumps: [], format: 'unknown' };
      }
      const dump = parsed.dumps[0];
      if (dump === undefined) {
        rec.error = `no thread dump in the answer (${bytes.length} bytes, format ${parsed.format})`;
        round.raw.delete(rec.node);
        round.failed.push({ node: rec.node, error: rec.error });
        continue;
      }
      if (dump.node.length > 0 && dump.node !== rec.node) round.aliases.push([dump.node, rec.node]);
      dump.node = rec.node;
      const cpu = round.cpu.get(rec.node);
      if (cpu !== undefined) attachThreadCpu(dump, cpu);
      round.dumps.push(dump);
    }
  }
}

/** The last `size` rounds that have at least one dump, oldest first. */
export class RoundWindow {
  private readonly kept: WatchRound[] = [];

  constructor(readonly size: number) {
    assert(Number.isInteger(size) && size >= 1 && size <= MAX_WINDOW, `window must be 1 to ${MAX_WINDOW} rounds`);
  }

  /** Adds a round; the oldest falls out once the window is full. */
  push(round: WatchRound): void {
    assert(round.dumps.length > 0, 'a round without dumps is not a sample');
    const last = this.kept[this.kept.length - 1];
    assert(last === undefined || last.round < round.round, 'rounds arrive in order');
    this.kept.push(round);
    if (this.kept.length > this.size) this.kept.shift();
  }

  get rounds(): readonly WatchRound[] {
    return this.kept;
  }

  get length(): number {
    return this.kept.length;
  }
}

/** Node addresses of URL targets, for linking calls between nodes (as analyze reads a manifest). */
export function targetAddrs(targets: readonly BundleTarget[]): { node: string; addr: string }[] {
  return targets.flatMap((t) => (t.addr !== undefined ? [{ node: t.name, addr: t.addr }] : []));
}

/** Analyzes the rounds with the one analysis core. */
export function analyzeWindow(rounds: readonly WatchRound[], options: AnalyzeOptions = {}): AnalysisResult {
  const analyzer = new Analyzer(options);
  for (const r of rounds) {
    for (const [dumpName, node] of r.aliases) analyzer.alias(dumpName, node);
    analyzer.addRound(r.dumps, { capturedAtMs: r.info.scheduledAt });
  }
  return analyzer.finish();
}
