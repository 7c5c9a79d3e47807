// Entry points: detect the format of one input and run its parser. Never throws on content; only
// unreadable or oversized files throw.
import { readFileSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { ParseContext, type ParseOptions } from './context.js';
import { parseHadoopStacks } from './hadoop.js';
import { detectJsonFormat, parseJsonDump } from './json.js';
import type { DumpFormat, ParseResult, ProcessDump } from './model.js';
import { parseTextDumps } from './text.js';

export type { ParseOptions } from './context.js';

/** Largest input parsed (V8 strings top out near 512 MiB; captures are capped at 64 MiB). */
export const MAX_DUMP_INPUT_BYTES = 256 * 1024 * 1024;
const DETECT_CHARS = 64 * 1024;

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
  return parseWithBytes(text, options, undefined);
}

export function parseDumpBuffer(buf: Uint8Array, options: ParseOptions = {}): ParseResult {
  if (buf.byteLength > MAX_DUMP_INPUT_BYTES) {
    throw new Error(`dump input of ${buf.byteLength} bytes is over the ${MAX_DUMP_INPUT_BYTES}-byte limit`);
  }
  const text = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength).toString('utf8');
  return parseWithBytes(text, options, buf.byteLength);
}

export async function parseDumpFile(path: string, options: ParseOptions = {}): Promise<ParseResult> {
  const st = await stat(path);
  if (st.size > MAX_DUMP_INPUT_BYTES) {
    throw new Error(`${path}: ${st.size} bytes is over the ${MAX_DUMP_INPUT_BYTES}-byte limit`);
  }
  return parseDumpBuffer(await readFile(path), options);
}

export function parseDumpFileSync(path: string, options: ParseOptions = {}): ParseResult {
  return parseDumpBuffer(readFileSync(path), options);
}

/** The dumps of one input, for callers that need no accounting. */
export function parseDumps(text: string, options: ParseOptions = {}): ProcessDump[] {
  return parseDumpText(text, options).dumps;
}

function parseWithBytes(text: string, options: ParseOptions, bytes: number | undefined): ParseResult {
  const ctx = new ParseContext(text, options);
  const detected = options.format ?? detectFormat(text);
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
  const format = ctx.dumps.length > 0 ? ctx.dumps[0]!.format : detected;
  return ctx.result(format, bytes ?? Buffer.byteLength(text, 'utf8'));
}
