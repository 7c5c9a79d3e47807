// Reading an input of any size or kind (a file, a pipe, a device) in parts that parse on their
// own: a part ends where a dump starts, so no dump is split, and the lines right before a dump
// header that belong to it (its timestamp, the process id jcmd prints) stay with it. Each part is
// read exactly as the whole input would be (see text.ts: nothing else carries over a dump header),
// and the parts' line numbers are joined afterwards. Memory is bounded by the part size, never by
// the input: a single dump larger than MAX_DUMP_INPUT_BYTES is refused once that much is read.
import type { FileHandle } from 'node:fs/promises';
import { parseTimestampLine } from './context.js';
import { MAX_ERRORS_LISTED, MAX_LINE_CHARS, type ParseResult } from './model.js';
import { inputShape, MAX_DUMP_INPUT_BYTES, type InputShape, type PartSeam } from './parse.js';

/** The input's head read before its shape is decided (the log-prefix scan reads 512 Ki chars). */
const HEAD_BYTES = 512 * 1024 + 64 * 1024;
const MARKER = Buffer.from('Full thread dump ', 'latin1');
/** How far before a dump header lines are examined for facts belonging to it. */
const MAX_LEAD_BYTES = 64 * 1024;
const MAX_LEAD_LINES = 64;
const DETECT_BYTES = 64 * 1024;
/** Part buffers kept for reuse per input. */
const MAX_SPARE_BUFFERS = 4;
/** Formats read by the jstack-family parser, which can start on any dump header. */
const SPLITTABLE = new Set<InputShape['format']>(['jstack', 'jmx', 'rollcall-text', 'unknown']);

/** Whether an input of this format is read in parts (else whole, up to the limit). */
export function isSplittable(format: InputShape['format']): boolean {
  return SPLITTABLE.has(format);
}

export interface Piece {
  bytes: Buffer;
  shape: InputShape;
  /** 0 for the first part of the input. */
  index: number;
}

/** Thrown for inputs that are not dumps or exceed the limits; the message names the reason. */
export class InputLimitError extends Error {
  override name = 'InputLimitError';
}

/**
 * Yields an input's parts of about `targetBytes` each (one part when its format cannot be split:
 * JSON, Hadoop /stacks). Reads sequentially, so pipes and devices work; never trusts a size.
 */
export class PieceReader {
  private buf: Buffer;
  private filled = 0;
  private eof = false;
  private index = 0;
  private shape: InputShape | undefined;
  private prefix: RegExp | undefined;
  private readonly spare: ArrayBuffer[] = [];

  constructor(
    private readonly fh: FileHandle,
    private readonly targetBytes: number,
    private readonly maxBytes = MAX_DUMP_INPUT_BYTES,
  ) {
    this.buf = Buffer.allocUnsafeSlow(Math.max(targetBytes, HEAD_BYTES));
  }

  async next(): Promise<Piece | undefined> {
    if (this.shape === undefined) {
      await this.fill(HEAD_BYTES);
      if (this.filled === 0) return undefined;
      this.shape = inputShape(this.buf.subarray(0, this.filled));
      if (this.shape.format === 'unknown' && this.buf.subarray(0, Math.min(this.filled, DETECT_BYTES)).includes(0))
        throw new InputLimitError('binary data (NUL bytes), not a thread dump');
      this.prefix = this.shape.prefix === undefined ? undefined : new RegExp(this.shape.prefix, 'y');
    } else if (this.filled === 0 && this.eof) return undefined;
    const splittable = isSplittable(this.shape.format);
    for (;;) {
      await this.fill(splittable ? this.targetBytes : this.maxBytes + 1);
      const cut = splittable ? chooseCut(this.buf, this.filled, this.targetBytes, this.prefix) : -1;
      if (cut > 0) return this.take(cut);
      if (this.filled > this.maxBytes)
        throw new InputLimitError(
          splittable
            ? `no dump boundary within ${this.maxBytes} bytes (a single dump that large is not read)`
            : `a ${this.shape.format} input over ${this.maxBytes} bytes`,
        );
      if (this.eof) return this.take(this.filled);
      // No place to cut yet: read more (into a larger buffer, up to the limit).
      if (this.filled === this.buf.length) {
        const bigger = Buffer.allocUnsafeSlow(Math.min(this.buf.length * 2, this.maxBytes + 1));
        this.buf.copy(bigger, 0, 0, this.filled);
        this.buf = bigger;
      }
      await this.fill(this.filled + 1);
    }
  }

  /** Reads until `want` bytes are buffered (at most the buffer's size) or the input ends. */
  private async fill(want: number): Promise<void> {
    const goal = Math.min(want, this.buf.length);
    while (this.filled < goal && !this.eof) {
      const { bytesRead } = await this.fh.read(this.buf, this.filled, this.buf.length - this.filled, null);
      if (bytesRead === 0) this.eof = true;
      this.filled += bytesRead;
    }
  }

  /** The first `n` bytes as a part of their own; the rest moves to a fresh buffer. */
  /**
   * A part's buffer, back from whoever parsed it: reused for a later part, since fresh memory
   * costs page faults and, held outside the JS heap, pushes V8 into extra collections.
   */
  recycle(buffer: ArrayBuffer): void {
    if (this.spare.length < MAX_SPARE_BUFFERS && buffer.byteLength >= this.targetBytes) this.spare.push(buffer);
  }

  private take(n: number): Piece {
    const bytes = this.buf.subarray(0, n);
    const rest = this.filled - n;
    const size = Math.max(this.targetBytes, rest * 2);
    const spare = this.spare.findIndex((b) => b.byteLength >= size);
    const next = spare >= 0 ? Buffer.from(this.spare.splice(spare, 1)[0]!) : Buffer.allocUnsafeSlow(size);
    this.buf.copy(next, 0, n, this.filled);
    this.buf = next;
    this.filled = rest;
    return { bytes, shape: this.shape!, index: this.index++ };
  }
}

/**
 * Where to end a part of about `target` bytes in buf[0, filled): the start of the lines leading
 * into a dump header, the last one before `target` or else the first after it, provided another
 * header comes before it (a part holds at least one dump). -1 when there is none yet.
 */
export function chooseCut(buf: Buffer, filled: number, target: number, prefix: RegExp | undefined): number {
  const first = nextMarker(buf, 0, filled, prefix);
  if (first < 0) return -1;
  const from = Math.min(filled - 1, Math.max(target, first + 1));
  for (let h = buf.lastIndexOf(MARKER, from); h > first; h = buf.lastIndexOf(MARKER, h - 1)) {
    const ls = markerLineStart(buf, h, filled, prefix);
    if (ls >= 0) return leadStart(buf, ls, first, prefix);
  }
  const after = nextMarker(buf, from + 1, filled, prefix);
  if (after < 0) return -1;
  return leadStart(buf, markerLineStart(buf, after, filled, prefix), first, prefix);
}

function nextMarker(buf: Buffer, from: number, filled: number, prefix: RegExp | undefined): number {
  for (let h = buf.indexOf(MARKER, from); h >= 0 && h < filled; h = buf.indexOf(MARKER, h + 1)) {
    if (markerLineStart(buf, h, filled, prefix) >= 0) return h;
  }
  return -1;
}

/**
 * The start of the line holding the marker at h, when that line starts a dump whatever the
 * parser's state: the marker at column 0 (after the log prefix), the line complete and short.
 */
function markerLineStart(buf: Buffer, h: number, filled: number, prefix: RegExp | undefined): number {
  const ls = h === 0 ? 0 : buf.lastIndexOf(10, h - 1) + 1;
  const le = buf.indexOf(10, h);
  if (le < 0 || le >= filled || le - ls > MAX_LINE_CHARS) return -1;
  const plen = prefix === undefined ? 0 : prefixBytes(buf, ls, le, prefix);
  return h - ls === plen ? ls : -1;
}

function prefixBytes(buf: Buffer, ls: number, le: number, prefix: RegExp): number {
  const line = buf.toString('utf8', ls, Math.min(le, ls + 1024));
  prefix.lastIndex = 0;
  const m = prefix.exec(line);
  return m === null ? 0 : Buffer.byteLength(m[0]);
}

/**
 * Walks back from the header line at ls over the lines the parser keeps for the dump it starts
 * (timestamp, `PID:`, JDK version, the serviceability agent's banner) and blank lines; returns
 * where the first of those kept lines starts (or ls).
 */
function leadStart(buf: Buffer, ls: number, floor: number, prefix: RegExp | undefined): number {
  let cut = ls;
  let pos = ls;
  for (let n = 0; n < MAX_LEAD_LINES && pos > floor && ls - pos < MAX_LEAD_BYTES; n++) {
    const pe = pos - 1; // the '\n' ending the previous line
    const ps = pe === 0 ? 0 : buf.lastIndexOf(10, pe - 1) + 1;
    if (ps <= floor) break;
    if (pe - ps > MAX_LINE_CHARS) break; // the parser does not look into such a line
    let line = buf.toString('utf8', ps, Math.min(pe, ps + 4096));
    if (line.endsWith('\r')) line = line.slice(0, -1);
    if (prefix !== undefined) {
      prefix.lastIndex = 0;
      const m = prefix.exec(line);
      if (m !== null) line = line.slice(m[0].length);
    }
    const kind = leadKind(line);
    if (kind === 'other') break;
    if (kind === 'kept') cut = ps;
    pos = ps;
  }
  return cut;
}

function leadKind(line: string): 'blank' | 'kept' | 'other' {
  if (!/[^ \t]/.test(line)) return 'blank';
  const c = line.charCodeAt(0);
  if (c === 32 || c === 9) return 'other';
  if (c >= 48 && c <= 57) {
    if (parseTimestampLine(line.trimEnd()) !== undefined) return 'kept';
    if (line.endsWith(':') && Number.isInteger(Number(line.slice(0, -1)))) return 'kept';
    return 'other';
  }
  if (line.startsWith('JDK version:') || line.startsWith('JVM version is ')) return 'kept';
  if (
    line.startsWith('Attaching to process ID') ||
    line.startsWith('Debugger attached successfully') ||
    line.startsWith('Server compiler detected') ||
    line.startsWith('Client compiler detected')
  )
    return 'kept';
  return 'other';
}

/** A part's result as the joiner needs it: its accounting, and its dumps' last lines. */
type PartTotals = Omit<ParseResult, 'dumps'> & { dumps: readonly { endLine: number }[] };

/** One input's totals once its parts are joined: a ParseResult without the dumps (they stream). */
export type JoinedTotals = Omit<ParseResult, 'dumps'> & { dumps: number };

/**
 * Joins the parse results of one input's parts, given in order, into what parsing the whole
 * input at once gives: line numbers continue (decode each part with `lineOffset`), the lines
 * leading into a part's first dump end the previous part's last dump, and the totals add up
 * within the same listing bounds.
 */
export class PartJoiner {
  /** Lines in the parts joined so far: the next part's line offset. */
  lineOffset = 0;
  readonly totals: JoinedTotals = {
    format: 'unknown',
    dumps: 0,
    totalLines: 0,
    parsedLines: 0,
    unparsedLines: 0,
    unparsed: [],
    errors: [],
    bytes: 0,
  };
  private parts = 0;
  private lastDump: { endLine: number } | undefined;
  private lastTail: PartSeam['tail'] = 'closed';

  constructor(private readonly maxUnparsedListed: number) {}

  /** Adds the next part, decoded at `lineOffset`; its dumps are the input's next ones. */
  add(r: PartTotals, seam: PartSeam): void {
    const t = this.totals;
    // Parsed whole, the previous part's last dump would have been current while this part's
    // leading lines were read — an open one from the start, one made of a lone thread from the
    // line that ended that thread.
    const extends_ = this.lastTail === 'open' || (this.lastTail === 'implicit' && seam.leadEndsThread);
    if (this.parts++ === 0) t.format = r.format;
    else if (extends_ && this.lastDump !== undefined && seam.leadingLines > 0)
      this.lastDump.endLine = this.lineOffset + seam.leadingLines;
    this.lineOffset += r.totalLines;
    t.totalLines += r.totalLines;
    t.parsedLines += r.parsedLines;
    t.unparsedLines += r.unparsedLines;
    t.bytes += r.bytes;
    t.dumps += r.dumps.length;
    for (const u of r.unparsed) if (t.unparsed.length < this.maxUnparsedListed) t.unparsed.push(u);
    for (const e of r.errors) if (t.errors.length < MAX_ERRORS_LISTED) t.errors.push(e);
    if (r.dumps.length > 0) {
      this.lastDump = r.dumps[r.dumps.length - 1];
      this.lastTail = seam.tail;
    } else if (seam.tail === 'closed') this.lastTail = 'closed';
  }

  /**
   * The input has no more parts: let go of its last dump. The joiner lives as long as its input
   * (a file parsed ahead is often promoted to the old generation before its dumps arrive), and a
   * dump it still pointed to would keep every one of its threads alive through young collections
   * long after the analysis dropped them: that alone doubled the main thread's GC time.
   */
  end(): void {
    this.lastDump = undefined;
  }
}
