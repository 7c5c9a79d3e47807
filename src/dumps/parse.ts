// Entry points: detect the format of one input and run its parser. Never throws on content; only
// unreadable or oversized inputs throw.
//
// Bytes are parsed a window at a time (whole lines, at most WINDOW_BYTES): on this kind of
// machine allocating one string of a whole file costs more than parsing it (V8 puts strings over
// ~128 KiB in their own freshly mapped pages), while small windows decode at memory speed and die
// young.
import { isAscii } from 'node:buffer';
import { closeSync, openSync, readSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { ParseContext, type ParseOptions } from './context.js';
import { parseHadoopStacks } from './hadoop.js';
import { detectJsonFormat, parseJsonDump } from './json.js';
import type { DumpFormat, ParseResult, ProcessDump } from './model.js';
import { detectLogPrefixInLines } from './prefix.js';
import { parseTextDumps, TextParser } from './text.js';

export type { ParseOptions } from './context.js';

/** Largest input parsed as one (V8 strings top out near 512 MiB; captures are capped at 64 MiB). */
export const MAX_DUMP_INPUT_BYTES = 256 * 1024 * 1024;
const DETECT_CHARS = 64 * 1024;
/** Bytes decoded into one string at a time: below V8's large-object size. */
export const WINDOW_BYTES = 64 * 1024;
/** A line longer than this is not decoded whole (it is counted unparsed from its beginning). */
const MAX_DECODED_LINE_BYTES = 4 * 1024 * 1024;
const LONG_LINE_HEAD_BYTES = 16 * 1024;

const HADOOP_MARK = /^(?:Process Thread Dump:|Thread \d+ \(.*\):\r?$)/m;
const TEXT_MARK = /^(?:.*Full thread dump |"[^\n]*" [^\n]*(?:tid=|nid=|[Ii]d=\d+))/m;

/** Which parser an input needs, from its first 64 KiB. */
export function detectFormat(text: string): DumpFormat | 'unknown' {
  const head = text.length > DETECT_CHARS ? text.slice(0, DETECT_CHARS) : text;
  const json = detectJsonFormat(head);
  if (json !== undefined) return json;
  const hadoop = HADOOP_MARK.exec(head);
  const jstack = TEXT_MARK.exec(head);
  if (hadoop !== null && (jstack === null || hadoop.index < jstack.index)) return 'hadoop-stacks';
  if (jstack !== null) return jstack[0].includes('Full thread dump rollcall ') ? 'rollcall-text' : 'jstack';
  return 'unknown';
}

export function parseDumpText(text: string, options: ParseOptions = {}): ParseResult {
  const detected = options.format ?? detectFormat(text);
  const ctx = new ParseContext(text, options);
  switch (detected) {
    case 'jcmd-json':
    case 'rollcall-json':
      parseJsonDump(ctx, detected);
      break;
    case 'hadoop-stacks':
      parseHadoopStacks(ctx);
      break;
    default:
      parseTextDumps(ctx);
      break;
  }
  return finish(ctx, detected, Buffer.byteLength(text, 'utf8'));
}

export function parseDumpBuffer(buf: Uint8Array, options: ParseOptions = {}): ParseResult {
  if (buf.byteLength > MAX_DUMP_INPUT_BYTES) {
    throw new Error(`dump input of ${buf.byteLength} bytes is over the ${MAX_DUMP_INPUT_BYTES}-byte limit`);
  }
  return parseBytes(buf, options);
}

/** How one input is read: decided once from its head, shared by every part it is parsed in. */
export interface InputShape {
  format: DumpFormat | 'unknown';
  /** The log prefix on every line (jstack family only), as a sticky pattern's source. */
  prefix?: string;
}

/** Reads the shape of an input from its first bytes (the whole input, or at least its first 512 KiB). */
export function inputShape(buf: Uint8Array, options: ParseOptions = {}): InputShape {
  const b = asBuffer(buf);
  const decode = decoder(b);
  const format = options.format ?? detectFormatOf(b, decode);
  if (format === 'jcmd-json' || format === 'rollcall-json' || format === 'hadoop-stacks') return { format };
  const prefix = detectPrefix(b, decode);
  return prefix === undefined ? { format } : { format, prefix: prefix.source };
}

/**
 * Parses bytes; `shape` says how when they are one part of a larger input (split where a dump
 * starts), so the part is read exactly as the whole would be.
 */
export function parseBytes(buf: Uint8Array, options: ParseOptions = {}, shape?: InputShape): ParseResult {
  return parsePart(buf, options, shape).result;
}

/**
 * What joining a part to its neighbours needs: in the whole input, the lines leading into this
 * part's first dump would extend the previous part's last dump, when that dump was still open.
 */
export interface PartSeam {
  /** Lines before the first dump started. */
  leadingLines: number;
  /** One of those lines (a timestamp, a `PID:` line) ends a thread. */
  leadEndsThread: boolean;
  /**
   * At the part's end, its last dump was open ('open'), or a thread outside any dump was open,
   * which becomes a dump of its own when it ends ('implicit'), or neither ('closed').
   */
  tail: 'open' | 'implicit' | 'closed';
}

/** A part's result, and its seam. */
export interface PartResult {
  result: ParseResult;
  seam: PartSeam;
}

export function parsePart(buf: Uint8Array, options: ParseOptions = {}, shape?: InputShape): PartResult {
  const b = asBuffer(buf);
  const ascii = isAscii(b);
  const decode = decoder(b, ascii);
  const format = shape?.format ?? options.format ?? detectFormatOf(b, decode);
  if (format === 'jcmd-json' || format === 'rollcall-json' || format === 'hadoop-stacks') {
    const result = parseDumpText(b.toString('utf8'), { ...options, format });
    result.bytes = b.byteLength;
    return { result, seam: { leadingLines: 0, leadEndsThread: false, tail: 'closed' } };
  }
  const ctx = new ParseContext('', options);
  const prefix =
    shape !== undefined
      ? shape.prefix === undefined
        ? undefined
        : new RegExp(shape.prefix, 'y')
      : detectPrefix(b, decode);
  const parser = new TextParser(ctx, prefix);
  feedWindows(parser, b, decode, ascii);
  const tail = ctx.current !== undefined ? 'open' : parser.threadOpen ? 'implicit' : 'closed';
  parser.end();
  return {
    result: finish(ctx, format, b.byteLength),
    seam: { leadingLines: parser.leadingLines, leadEndsThread: parser.leadEndsThread, tail },
  };
}

function finish(ctx: ParseContext, detected: DumpFormat | 'unknown', bytes: number): ParseResult {
  const format = ctx.dumps.length > 0 ? ctx.dumps[0]!.format : detected;
  return ctx.result(format, bytes);
}

function asBuffer(buf: Uint8Array): Buffer {
  return Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
}

type Decode = (start: number, end: number) => string;

/** ASCII, the usual case, is its own Latin-1: decoded byte for byte, far faster than UTF-8. */
function decoder(b: Buffer, ascii = isAscii(b)): Decode {
  return ascii ? (s, e) => b.toString('latin1', s, e) : (s, e) => b.toString('utf8', s, e);
}

/** Lines read first to detect the format: most inputs show it at once (a worker detects every file). */
const QUICK_DETECT_BYTES = 4 * 1024;

/** detectFormat of the input's head, from its first lines alone when they decide it. */
function detectFormatOf(b: Buffer, decode: Decode): DumpFormat | 'unknown' {
  return quickFormat(b) ?? detectFormat(headText(b, decode));
}

/**
 * What detectFormat says of the whole head, when the first whole lines (ASCII, so the same
 * characters however decoded) show a jstack or Hadoop mark and do not open JSON. Both marks are
 * matched within a line, so each one's first match in these lines is its first in the head too;
 * the earlier of the two decides, and a mark only past these lines comes later than one in them.
 */
function quickFormat(b: Buffer): DumpFormat | undefined {
  if (b.byteLength <= QUICK_DETECT_BYTES) return undefined;
  const nl = b.lastIndexOf(10, QUICK_DETECT_BYTES - 1);
  if (nl < 0 || !isAscii(b.subarray(0, nl + 1))) return undefined;
  const lines = b.toString('latin1', 0, nl + 1);
  if (lines.trimStart().startsWith('{')) return undefined;
  if (!HADOOP_MARK.test(lines) && !TEXT_MARK.test(lines)) return undefined;
  const format = detectFormat(lines);
  return format === 'unknown' ? undefined : format;
}

/** The first DETECT_CHARS characters (a UTF-8 character is at most 4 bytes; ASCII is one). */
function headText(b: Buffer, decode: Decode): string {
  const ascii = Math.min(b.byteLength, DETECT_CHARS);
  if (isAscii(b.subarray(0, ascii))) return b.toString('latin1', 0, ascii);
  const text = decode(0, Math.min(b.byteLength, DETECT_CHARS * 4));
  return text.length > DETECT_CHARS ? text.slice(0, DETECT_CHARS) : text;
}

/** The first window read for prefix detection; each next one is twice as large, up to WINDOW_BYTES. */
const FIRST_PREFIX_WINDOW_BYTES = 4 * 1024;

function detectPrefix(b: Buffer, decode: Decode): RegExp | undefined {
  let pos = 0;
  let lines: string[] = [];
  let next = 0;
  // Detection usually ends within the first lines (markers at column 0): small windows first, so
  // a file is not decoded and split a whole window further than that for every part parsed.
  let window = FIRST_PREFIX_WINDOW_BYTES;
  return detectLogPrefixInLines(() => {
    while (next >= lines.length) {
      if (pos >= b.byteLength) return undefined;
      const cut = windowEnd(b, pos, b.byteLength, window);
      window = Math.min(WINDOW_BYTES, window * 2);
      const text = decode(pos, Math.min(cut, pos + MAX_DECODED_LINE_BYTES));
      pos = cut;
      lines = text.split('\n');
      if (lines[lines.length - 1] === '') lines.pop();
      next = 0;
    }
    return lines[next++];
  });
}

/** Where the window starting at pos ends: after its last '\n', or after one long line. */
function windowEnd(b: Buffer, pos: number, end: number, windowBytes = WINDOW_BYTES): number {
  if (end - pos <= windowBytes) return end;
  const nl = b.lastIndexOf(10, pos + windowBytes - 1);
  if (nl >= pos) return nl + 1;
  const next = b.indexOf(10, pos + windowBytes);
  return next < 0 || next >= end ? end : next + 1;
}

/** Feeds the parser whole lines a window at a time; with ASCII bytes, it may copy strings from them. */
function feedWindows(parser: TextParser, b: Buffer, decode: Decode, ascii: boolean): void {
  const end = b.byteLength;
  let pos = 0;
  while (pos < end) {
    const cut = windowEnd(b, pos, end);
    if (cut - pos > MAX_DECODED_LINE_BYTES) parser.feedLongLine(decode(pos, pos + LONG_LINE_HEAD_BYTES));
    else if (ascii) parser.feed(decode(pos, cut), b, pos);
    else parser.feed(decode(pos, cut));
    pos = cut;
  }
}

/** Reads a whole file, whatever it is (a device, a pipe), refusing past `maxBytes` without reading on. */
export function readFileBounded(path: string, maxBytes = MAX_DUMP_INPUT_BYTES): Buffer {
  const fd = openSync(path, 'r');
  try {
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.allocUnsafe(Math.min(READ_CHUNK_BYTES, maxBytes + 1 - total));
      const n = readSync(fd, chunk, 0, chunk.byteLength, null);
      if (n === 0) break;
      chunks.push(n === chunk.byteLength ? chunk : chunk.subarray(0, n));
      total += n;
      if (total > maxBytes) throw new Error(`over the ${maxBytes}-byte limit`);
    }
    return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total);
  } finally {
    closeSync(fd);
  }
}

const READ_CHUNK_BYTES = 4 * 1024 * 1024;

export async function parseDumpFile(path: string, options: ParseOptions = {}): Promise<ParseResult> {
  const fh = await open(path, 'r');
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for (;;) {
      const chunk = Buffer.allocUnsafe(Math.min(READ_CHUNK_BYTES, MAX_DUMP_INPUT_BYTES + 1 - total));
      const { bytesRead } = await fh.read(chunk, 0, chunk.byteLength, null);
      if (bytesRead === 0) break;
      chunks.push(chunk.subarray(0, bytesRead));
      total += bytesRead;
      if (total > MAX_DUMP_INPUT_BYTES) throw new Error(`${path}: over the ${MAX_DUMP_INPUT_BYTES}-byte limit`);
    }
  } finally {
    await fh.close();
  }
  return parseBytes(Buffer.concat(chunks, total), options);
}

export function parseDumpFileSync(path: string, options: ParseOptions = {}): ParseResult {
  let buf: Buffer;
  try {
    buf = readFileBounded(path);
  } catch (err) {
    throw new Error(`${path}: ${(err as Error).message}`);
  }
  return parseBytes(buf, options);
}

/** The dumps of one input, for callers that need no accounting. */
export function parseDumps(text: string, options: ParseOptions = {}): ProcessDump[] {
  return parseDumpText(text, options).dumps;
}
