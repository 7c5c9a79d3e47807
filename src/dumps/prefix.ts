// Dumps copied out of logs carry the logger's prefix on every line
// (`2024-01-01 12:00:00,123 INFO [main] "worker-1" #12 prio=5 …`). Find the prefix once from a
// line whose dump marker does not start at column 0, turn it into a pattern (digits, bracketed
// parts, log levels vary; the rest is literal), and strip it wherever it matches.

const SCAN_LINES = 2000;
const SCAN_CHARS = 512 * 1024;
const MAX_PREFIX_CHARS = 200;
const ENOUGH_UNPREFIXED = 20;
const LEVELS = '(?:TRACE|DEBUG|INFO|WARN|WARNING|ERROR|FATAL|SEVERE|FINE|FINER|FINEST|CONFIG|NOTICE)';
const LEVEL_WORD = /^(?:TRACE|DEBUG|INFO|WARN|WARNING|ERROR|FATAL|SEVERE|FINE|FINER|FINEST|CONFIG|NOTICE)$/;

/** Returns a sticky pattern matching the prefix at a line start, or undefined when there is none. */
export function detectLogPrefix(text: string): RegExp | undefined {
  let pos = 0;
  return detectLogPrefixInLines(() => {
    if (pos >= text.length) return undefined;
    let nl = text.indexOf('\n', pos);
    if (nl < 0) nl = text.length;
    const line = text.slice(pos, nl);
    pos = nl + 1;
    return line;
  });
}

/**
 * The same, reading the input's first lines (without their '\n') from `next`, which returns
 * undefined at the end: a streamed input need not be one string. Reads at most the lines within
 * the first 512 Ki characters, and a few more to confirm a candidate.
 */
export function detectLogPrefixInLines(next: () => string | undefined): RegExp | undefined {
  const lines = new HeadLines(next);
  let at0 = 0;
  let unprefixed = 0;
  for (let n = 0; n < SCAN_LINES && at0 < SCAN_CHARS; n++) {
    const full = lines.get(n);
    if (full === undefined) break;
    at0 += full.length + 1;
    const line = full.length > 4096 ? full.slice(0, 4096) : full;
    const at = markerAt(line);
    if (at === undefined) continue;
    // Dump markers at column 0: the input has no prefix (checked a few times, not on every line).
    if (at === 0) {
      if (++unprefixed >= ENOUGH_UNPREFIXED) return undefined;
      continue;
    }
    const prefix = line.slice(0, at);
    if (prefix.trim().length === 0 || prefix.length > MAX_PREFIX_CHARS) continue;
    const re = patternFor(prefix);
    if (re !== undefined && confirms(lines, re)) return re;
  }
  return undefined;
}

/** Lines read so far, kept so a candidate can be confirmed against the first ones. */
class HeadLines {
  private readonly lines: string[] = [];
  private ended = false;
  constructor(private readonly next: () => string | undefined) {}

  get(i: number): string | undefined {
    while (i >= this.lines.length && !this.ended) {
      const line = this.next();
      if (line === undefined) this.ended = true;
      else this.lines.push(line);
    }
    return this.lines[i];
  }
}

function markerAt(line: string): number | undefined {
  let i = line.indexOf('Full thread dump ');
  if (i >= 0) return i;
  i = line.indexOf('java.lang.Thread.State: ');
  if (i >= 0) return trimEndIndex(line, i);
  i = line.indexOf('\tat ');
  if (i >= 0) return i;
  const q = line.indexOf('"');
  if (q >= 0 && (line.includes(' tid=') || line.includes(' nid=') || line.includes(' prio='))) return q;
  return undefined;
}

function trimEndIndex(line: string, i: number): number {
  while (i > 0 && (line.charCodeAt(i - 1) === 32 || line.charCodeAt(i - 1) === 9)) i--;
  return i;
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

function patternFor(prefix: string): RegExp | undefined {
  let src = '';
  let varying = false;
  // Tokens: digit runs, [bracketed], letter runs, whitespace runs, single other characters.
  const tokenRe = /(\d+)|(\[[^\]]*\])|([A-Za-z]+)|([ \t]+)|([^])/g;
  let m: RegExpExecArray | null;
  while ((m = tokenRe.exec(prefix)) !== null) {
    const isLast = tokenRe.lastIndex === prefix.length;
    if (m[1] !== undefined) {
      src += '\\d+';
      varying = true;
    } else if (m[2] !== undefined) {
      src += '\\[[^\\]\\n]*\\]';
      varying = true;
    } else if (m[3] !== undefined) {
      if (LEVEL_WORD.test(m[3])) {
        src += LEVELS;
        varying = true;
      } else src += escapeRe(m[3]);
    } else if (m[4] !== undefined) src += isLast ? escapeRe(m[4]) : '[ \\t]+';
    else src += escapeRe(m[5]!);
  }
  // A prefix with nothing that varies is literal text: still fine, but require it not to be a
  // dump token itself (a lone tab or quote would strip real content).
  if (!varying && prefix.trim().length < 3) return undefined;
  try {
    return new RegExp(src, 'y');
  } catch {
    return undefined;
  }
}

/** The pattern must match at least half of the first non-empty lines to be trusted. */
function confirms(lines: HeadLines, re: RegExp): boolean {
  let seen = 0;
  let matched = 0;
  for (let i = 0; seen < 200; i++) {
    const line = lines.get(i);
    if (line === undefined) break;
    if (line.length > 1) {
      seen++;
      re.lastIndex = 0;
      if (re.test(line)) matched++;
    }
  }
  return seen > 0 && matched * 2 >= seen;
}
