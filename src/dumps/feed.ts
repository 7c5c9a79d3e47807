// The dumps of many inputs, parsed ahead on the pool and handed out in order. A source is one
// node's samples: files whose dumps follow each other, or a bundle's file per round (its first
// dump is the sample). Consumers ask each source for its next dump (analysis: one per source per
// round; `parse`: every dump of one file after another); parsing runs ahead of them, for the
// sources furthest behind first, within a bound on the work outstanding, so memory follows what
// is being consumed, not the size of the inputs. Large files and anything that is not a regular
// file (a pipe, a device) are read in parts split where a dump starts (pieces.ts).
import { open, type FileHandle } from 'node:fs/promises';
import { statSync } from 'node:fs';
import type { FrameTable } from './frames.js';
import type { DumpFormat, ProcessDump } from './model.js';
import { PartJoiner, PieceReader, type JoinedTotals } from './pieces.js';
import { ParsePool, type PartReceived } from './pool.js';
import { decodeResult, decodeSummaries, type DumpSummary } from './wire.js';

/** Files up to this size are parsed whole by one worker, which reads them itself. */
export const WHOLE_FILE_BYTES = 16 * 1024 * 1024;
/** Bound on parsing dispatched ahead of consumption: parts, and bytes of input in them. */
const MAX_OUTSTANDING_PARTS = 512;
const MAX_OUTSTANDING_BYTES = 64 * 1024 * 1024;
/** Size of the parts a large input is read in: the budget shared by the sources, within bounds. */
const PART_BUDGET_BYTES = 64 * 1024 * 1024;
const MIN_PART_BYTES = 1024 * 1024;
const MAX_PART_BYTES = 8 * 1024 * 1024;

export interface FeedSource {
  name: string;
  /** Files whose dumps, in order, are the source's samples… */
  files?: string[];
  /** …or a bundle's file per round (undefined: nothing was captured); each file's first dump is the sample. */
  byRound?: (string | undefined)[];
}

/** What became of one input file, once every part of it is parsed. */
export type FileDone = JoinedTotals & {
  source: number;
  file: string;
  /** The names the dumps give their node (rollcall's `node=`), each once, in order. */
  dumpNodes: string[];
};

/** Bound on the distinct dump node names kept per file. */
const MAX_DUMP_NODES_LISTED = 100;

export interface FeedOptions {
  keepUnparsed?: boolean;
  maxUnparsedListed?: number;
  format?: DumpFormat;
  /** Where frames are interned (defaultFrameTable unless given). */
  frames: FrameTable;
  /** Parsing threads (0: parse in this thread). */
  workers: number;
  /** Part size for large inputs (default: from the number of sources). */
  partBytes?: number;
  /** Called when a file is completely parsed, in the order files complete for their source. */
  onFile?: (done: FileDone) => void;
  /** Hand out DumpSummary (thread counts and states), not dumps: use with DumpFeed<DumpSummary>. */
  summary?: boolean;
}

/** A read or parse failure of one input file; the message names the file. */
export class FeedInputError extends Error {
  override name = 'FeedInputError';
}

/** The result of one dispatched unit of work, in a source's order. */
type Outcome =
  | { kind: 'gap' }
  | { kind: 'part'; file: FileState; part: PartReceived; bytes: number }
  | { kind: 'end'; file: FileState };

interface Slot {
  bytes: number;
  outcome: Promise<Outcome>;
}

interface FileState {
  path: string;
  firstOnly: boolean;
  reader?: PieceReader;
  handle?: FileHandle;
  /** The reader reported the end; no more parts are dispatched. */
  ended: boolean;
  /** Reported through onFile (late end-of-input outcomes are ignored). */
  completed: boolean;
  /** Reads happen one after another. */
  reading: Promise<unknown>;
  /** The parts joined so far, in order. */
  joiner: PartJoiner;
  dumpNodes: string[];
  source: number;
}

interface SourceState {
  index: number;
  spec: FeedSource;
  unit: number;
  file?: FileState;
  queue: Slot[];
  /** Samples decoded and not yet taken; null is a round without one. */
  ready: (ProcessDump | DumpSummary | null)[];
  consumed: number;
}

/** The size of these input files in all, or undefined when one has none (a pipe, a device). */
export function inputBytes(paths: Iterable<string | undefined>): number | undefined {
  let bytes = 0;
  for (const path of paths) {
    if (path === undefined) continue;
    try {
      const st = statSync(path);
      if (!st.isFile()) return undefined;
      bytes += st.size;
    } catch {
      // Reported when the file is read.
    }
  }
  return bytes;
}

export class DumpFeed<D extends ProcessDump | DumpSummary = ProcessDump> {
  private readonly pool: ParsePool;
  private readonly sources: SourceState[];
  private outstandingParts = 0;
  private outstandingBytes = 0;
  private cursor = 0;
  private cursorRound = 0;
  /** Bytes of input parsed and handed out so far. */
  parsedBytes = 0;
  private readonly partBytes: number;
  private closed = false;

  constructor(
    specs: FeedSource[],
    private readonly options: FeedOptions,
  ) {
    this.sources = specs.map((spec, index) => ({ index, spec, unit: 0, queue: [], ready: [], consumed: 0 }));
    this.pool = new ParsePool(options.workers, options.frames);
    this.partBytes =
      options.partBytes ??
      Math.max(MIN_PART_BYTES, Math.min(MAX_PART_BYTES, Math.floor(PART_BUDGET_BYTES / Math.max(1, specs.length))));
  }

  get threads(): number {
    return this.pool.threads;
  }

  /** Starts parsing ahead now, before the first sample is asked for. */
  prime(): void {
    this.pump();
  }

  /** The next sample of a source: a dump, null (none this round), or 'done'. */
  async next(source: number): Promise<D | null | 'done'> {
    const st = this.sources[source]!;
    for (;;) {
      if (st.ready.length > 0) {
        st.consumed++;
        this.pump();
        return st.ready.shift() as D | null;
      }
      if (st.queue.length === 0 && !this.dispatch(st)) return 'done';
      const slot = st.queue[0]!;
      let outcome: Outcome;
      try {
        outcome = await slot.outcome;
      } finally {
        st.queue.shift();
        this.outstandingParts--;
        this.outstandingBytes -= slot.bytes;
      }
      this.absorb(st, outcome);
      this.pump();
    }
  }

  /**
   * Stops the parsing threads and closes the files. The threads are told to stop before this
   * returns its promise, so a caller can go on (finish an analysis) while they end: ending a
   * worker thread takes tens of milliseconds.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const pool = this.pool.close();
    for (const st of this.sources) {
      // Outcomes still pending are of no interest any more; their failures must not surface.
      for (const slot of st.queue) slot.outcome.catch(() => undefined);
      await st.file?.handle?.close().catch(() => undefined);
    }
    await pool;
  }

  /** Parses ahead, the sources furthest behind first, within the outstanding bounds. */
  private pump(): void {
    let idle = 0;
    while (
      !this.closed &&
      this.outstandingParts < MAX_OUTSTANDING_PARTS &&
      this.outstandingBytes < MAX_OUTSTANDING_BYTES &&
      idle <= this.sources.length
    ) {
      const st = this.sources[this.cursor]!;
      const covered = st.consumed + st.ready.length + st.queue.length;
      let dispatched = false;
      if (covered <= this.cursorRound) dispatched = this.dispatch(st);
      idle = dispatched ? 0 : idle + 1;
      if (++this.cursor === this.sources.length) {
        this.cursor = 0;
        this.cursorRound++;
      }
    }
    if (idle > this.sources.length) {
      // Every source is ahead of the cursor's round or finished: restart at the one furthest behind.
      let min = Infinity;
      for (const st of this.sources) {
        if (this.hasWork(st)) min = Math.min(min, st.consumed + st.ready.length + st.queue.length);
      }
      if (Number.isFinite(min) && min > this.cursorRound) {
        this.cursorRound = min;
        this.pump();
      }
    }
  }

  private hasWork(st: SourceState): boolean {
    if (st.file !== undefined && !st.file.ended) return true;
    return st.unit < (st.spec.byRound ?? st.spec.files ?? []).length;
  }

  /** Starts the source's next unit of work; false when it has none left. */
  private dispatch(st: SourceState): boolean {
    if (this.closed) return false;
    let file = st.file;
    if (file === undefined || file.ended) {
      const units = st.spec.byRound ?? st.spec.files ?? [];
      if (st.unit >= units.length) return false;
      const path = units[st.unit++];
      if (path === undefined) {
        this.enqueue(st, 0, Promise.resolve({ kind: 'gap' }));
        return true;
      }
      file = st.file = this.newFile(st.index, path, st.spec.byRound !== undefined);
      let size: number | undefined;
      try {
        const s = statSync(path);
        if (s.isFile()) size = s.size;
      } catch (err) {
        file.ended = true;
        this.enqueue(st, 0, Promise.reject(this.inputError(path, err)));
        return true;
      }
      if (size !== undefined && size <= WHOLE_FILE_BYTES) {
        file.ended = true;
        const f = file;
        const outcome = this.pool
          .run({ path, ...this.jobOptions() })
          .then((part): Outcome => ({ kind: 'part', file: f, part, bytes: size }))
          .catch((err: unknown) => Promise.reject(this.inputError(path, err)));
        this.enqueue(st, size, outcome);
        return true;
      }
    }
    const f = file;
    const read = f.reading.then(async () => {
      if (f.reader === undefined) {
        f.handle = await open(f.path, 'r');
        f.reader = new PieceReader(f.handle, this.partBytes);
      }
      return f.reader.next();
    });
    f.reading = read.catch(() => undefined);
    const outcome = read.then(
      async (piece): Promise<Outcome> => {
        if (piece === undefined) {
          f.ended = true;
          await f.handle?.close();
          f.handle = undefined;
          return { kind: 'end', file: f };
        }
        const part = await this.pool.run({ bytes: piece.bytes, shape: piece.shape, ...this.jobOptions() });
        if (part.input !== undefined) f.reader?.recycle(part.input);
        return { kind: 'part', file: f, part, bytes: piece.bytes.byteLength };
      },
      async (err: unknown) => {
        f.ended = true;
        await f.handle?.close().catch(() => undefined);
        throw this.inputError(f.path, err);
      },
    );
    this.enqueue(st, this.partBytes, outcome);
    return true;
  }

  private enqueue(st: SourceState, bytes: number, outcome: Promise<Outcome>): void {
    // Failures surface when the slot is consumed; until then they must not count as unhandled.
    outcome.catch(() => undefined);
    st.queue.push({ bytes, outcome });
    this.outstandingParts++;
    this.outstandingBytes += bytes;
  }

  private jobOptions(): { keepUnparsed: boolean; maxUnparsedListed: number; format?: DumpFormat; summary: boolean } {
    return {
      summary: this.options.summary === true,
      keepUnparsed: this.options.keepUnparsed === true,
      maxUnparsedListed: this.options.maxUnparsedListed ?? 1000,
      ...(this.options.format !== undefined ? { format: this.options.format } : {}),
    };
  }

  private inputError(path: string, err: unknown): FeedInputError {
    return new FeedInputError(`cannot read ${path}: ${(err as Error).message}`);
  }

  private newFile(source: number, path: string, firstOnly: boolean): FileState {
    return {
      path,
      firstOnly,
      ended: false,
      completed: false,
      reading: Promise.resolve(),
      joiner: new PartJoiner(this.options.maxUnparsedListed ?? 1000),
      dumpNodes: [],
      source,
    };
  }

  /** A unit's outcome, consumed in the source's order: its dumps become samples. */
  private absorb(st: SourceState, o: Outcome): void {
    if (o.kind === 'gap') {
      st.ready.push(null);
      return;
    }
    const f = o.file;
    if (o.kind === 'end') return this.fileDone(st, f);
    const r =
      this.options.summary === true
        ? decodeSummaries(o.part.received, f.joiner.lineOffset)
        : decodeResult(o.part.received, f.joiner.lineOffset);
    o.part.release();
    this.parsedBytes += r.bytes;
    const before = f.joiner.totals.dumps;
    f.joiner.add(r, o.part.seam);
    for (let i = 0; i < r.dumps.length; i++) {
      const d = r.dumps[i]!;
      if (!f.dumpNodes.includes(d.node) && f.dumpNodes.length < MAX_DUMP_NODES_LISTED) f.dumpNodes.push(d.node);
      if (!f.firstOnly || before + i === 0) st.ready.push(d);
    }
    // A file read whole is complete with its one part.
    if (f.reader === undefined && f.ended) this.fileDone(st, f);
  }

  private fileDone(st: SourceState, f: FileState): void {
    if (f.completed) return;
    f.completed = true;
    f.joiner.end();
    if (f.firstOnly && f.joiner.totals.dumps === 0) st.ready.push(null);
    if (st.file === f) st.file = undefined;
    this.options.onFile?.({ source: f.source, file: f.path, ...f.joiner.totals, dumpNodes: f.dumpNodes });
  }
}
