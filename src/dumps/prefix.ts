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
  const limit = Math.min(text.length, SCAN_CHARS);
  let pos = 0;
  let unprefixed = 0;
  for (let n = 0; n < SCAN_LINES && pos < limit; n++) {
    let nl = text.indexOf('\n', pos);
    if (nl < 0) nl = text.length;
    const line = text.slice(pos, Math.min(nl, pos + 4096));
    pos = nl + 1;
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
    if (re !== undefined && confirms(text, re)) return re;
  }
  return undefined;
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
function confirms(text: string, re: RegExp): boolean {
  let pos = 0;
  let seen = 0;
  let matched = 0;
  while (seen < 200 && pos < text.length) {
    let nl = text.indexOf('\n', pos);
    if (nl < 0) nl = text.length;
    if (nl > pos + 1) {
      seen++;
      re.lastIndex = pos;
      if (re.test(text)) matched++;
    }
    pos = nl + 1;
  }
  return seen > 0 && matched * 2 >= seen;
}
