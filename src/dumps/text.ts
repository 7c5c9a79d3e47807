// The jstack family: jstack and `jcmd PID Thread.print` (JDK 6–25), JMX ThreadInfo text, and
// rollcall's own text dumps, which are jstack-shaped. One pass over the input, one line at a time,
// deciding by the first characters of a line; regular expressions only on rare lines (headers).
import type { Serving, WaitDescriptor } from '../threads/types.js';
import { detach, stackKeyOf, type FrameTable } from './frames.js';
import {
  normalizeState,
  parseByteSize,
  parseDecimal,
  parseTimestampLine,
  stateFromStatus,
  ThreadRecord,
  type ParseContext,
} from './context.js';
import {
  MAX_FRAMES_PER_THREAD,
  MAX_LINE_CHARS,
  MAX_LOCKS_PER_THREAD,
  type DumpFormat,
  type Frame,
  type JvmDeadlock,
  type LockKind,
  type LockLine,
  type NormalizedState,
  type ProcessDump,
} from './model.js';
import { detectLogPrefix } from './prefix.js';

const enum Mode {
  /** Between blocks. */
  None,
  /** Inside a thread block (header seen). */
  Thread,
  /** After `Locked ownable synchronizers:` in a thread block. */
  Ownable,
  /** Inside a malformed block: lines are counted unparsed until the next block starts. */
  Skip,
  Smr,
  Heap,
  Deadlock,
  DeadlockStacks,
  Pools,
}

const enum Token {
  Field,
  RollcallField,
  Status,
  Skipped,
}

const CH_TAB = 9;
const CH_SPACE = 32;
const CH_QUOTE = 34;
const CH_DASH = 45;
const CH_a = 97;

/** Bounds on the stacks kept for replay: one stack's characters, and all of them. */
const MAX_BLOCK_CHARS = 1 << 16;
const MAX_BLOCKS_CHARS = 16 * 1024 * 1024;

interface LockOp {
  kind: LockKind;
  address: string;
  className: string;
}

interface StackBlock {
  text: string;
  ops: readonly (Frame | LockOp)[];
  lines: number;
  /** What the ops make of a thread with no frames yet (within the per-thread bounds): copied in at once. */
  made?: { frames: readonly Frame[]; locks: readonly LockLine[]; key: string };
}

/**
 * What a parser learns that stays true for later inputs parsed into the same FrameTable (a
 * worker parses many files): stacks by first frame and length, frames by a cheap guess key,
 * state lines. Kept per table because the stacks and frames are that table's objects.
 */
interface ParserMemo {
  blocks: Map<number, StackBlock>;
  blockChars: number;
  recentFrames: Map<number, Frame>;
  stateOfDetail: Map<string, NormalizedState>;
}

function memoFor(frames: FrameTable): ParserMemo {
  frames.parserMemo ??= { blocks: new Map(), blockChars: 0, recentFrames: new Map(), stateOfDetail: new Map() };
  return frames.parserMemo as ParserMemo;
}

interface Recording {
  start: number;
  first: Frame;
  ops: (Frame | LockOp)[];
}

/** Bounds on the per-input caches of frames found by comparing in place, and of state lines. */
const MAX_RECENT_FRAMES = 65_536;
const MAX_RECENT_STRINGS = 65_536;

const JMX_HEADER = /^"(.*?)" (daemon )?(?:prio=(\d+) )?[Ii]d=(\d+) (?:in )?([A-Z_]+)(.*)$/;

export function parseTextDumps(ctx: ParseContext): void {
  const parser = new TextParser(ctx, detectLogPrefix(ctx.text));
  parser.feed(ctx.text);
  parser.end();
}

/**
 * The jstack-family parser, fed whole lines a window at a time (`feed`), so a large input is
 * never one string: windows of a few tens of KiB decode fast and die young. State (the open
 * thread, the mode, line numbers) carries over between windows.
 */
export class TextParser {
  private text = '';
  private lineNo = 0;
  private mode = Mode.None;
  private thread: ThreadRecord | undefined;
  private previousFrames: readonly Frame[] = [];
  /** The stack being recorded (its frame and lock lines so far), if any. */
  private rec: Recording | undefined;
  /** Where the next stack-ending blank line is in the window, once searched for. */
  private sepAt = -1;
  private crlf = false;
  /** Set by a replay: where the line loop continues, and the lines it skips. */
  private skipTo = -1;
  private skipLines = 0;
  private bytes: Buffer | undefined;
  private byteStart = 0;
  private threadFormat: DumpFormat = 'jstack';
  private deadlock: JvmDeadlock | undefined;
  /** Facts seen before `Full thread dump` that belong to the dump it starts. */
  private pendingLine = 0;
  private pendingTimeMs: number | undefined;
  private pendingPid: number | undefined;
  private pendingVersion: string | undefined;
  private pendingTouched = false;
  /** Lines read before the first dump started, and whether one of them ended a thread. */
  leadingLines = 0;
  leadEndsThread = false;

  private readonly memo: ParserMemo;

  constructor(
    private readonly ctx: ParseContext,
    private readonly prefix: RegExp | undefined,
  ) {
    this.memo = memoFor(ctx.frames);
  }

  /**
   * Lines of the input: every line but the input's last ends with '\n' inside `text`. When the
   * input is ASCII, `bytes` from `byteStart` on are the same characters (strings kept are copied
   * from them, a cheaper copy than from a string).
   */
  feed(text: string, bytes?: Buffer, byteStart = 0): void {
    this.text = text;
    this.bytes = bytes;
    this.byteStart = byteStart;
    this.ctx.text = text;
    this.rec = undefined;
    this.sepAt = -1;
    const len = text.length;
    const prefix = this.prefix;
    let pos = 0;
    let lineNo = this.lineNo;
    if (lineNo === 0) {
      const nl = text.indexOf('\n');
      this.crlf = nl > 0 && text.charCodeAt(nl - 1) === 13;
    }
    while (pos < len) {
      let nl = text.indexOf('\n', pos);
      if (nl < 0) nl = len;
      let end = nl;
      if (end > pos && text.charCodeAt(end - 1) === 13) end--;
      lineNo++;
      let start = pos;
      if (prefix !== undefined) {
        prefix.lastIndex = start;
        const m = prefix.exec(text);
        if (m !== null && start + m[0].length <= end) start += m[0].length;
      }
      if (end - start > MAX_LINE_CHARS) {
        this.rec = undefined;
        this.ctx.unparsedLine(lineNo, start, end);
      } else {
        this.line(lineNo, start, end);
        if (this.skipTo >= 0) {
          nl = this.skipTo - 1;
          lineNo += this.skipLines;
          this.skipTo = -1;
        }
      }
      if (this.ctx.current !== undefined) this.ctx.current.endLine = lineNo;
      else if (this.ctx.dumps.length === 0) this.leadingLines = lineNo;
      pos = nl + 1;
    }
    this.lineNo = lineNo;
  }

  /**
   * A line too long to decode whole (megabytes without a newline: not a dump line); `head` is its
   * beginning, enough for the prefix and the excerpt kept of unparsed lines.
   */
  feedLongLine(head: string): void {
    this.text = head;
    this.bytes = undefined;
    this.ctx.text = head;
    const lineNo = ++this.lineNo;
    let start = 0;
    if (this.prefix !== undefined) {
      this.prefix.lastIndex = 0;
      const m = this.prefix.exec(head);
      if (m !== null) start = m[0].length;
    }
    this.ctx.unparsedLine(lineNo, start, head.length);
    if (this.ctx.current !== undefined) this.ctx.current.endLine = lineNo;
    else if (this.ctx.dumps.length === 0) this.leadingLines = lineNo;
  }

  get threadOpen(): boolean {
    return this.thread !== undefined;
  }

  end(): void {
    this.ctx.totalLines = this.lineNo;
    this.endThread();
  }

  private line(lineNo: number, start: number, end: number): void {
    const text = this.text;
    let p = start;
    while (p < end) {
      const c = text.charCodeAt(p);
      if (c !== CH_SPACE && c !== CH_TAB) break;
      p++;
    }
    if (p === end) {
      if (this.rec !== undefined) this.keepBlock(start);
      if (this.mode === Mode.Heap) this.mode = Mode.None;
      return;
    }
    const rec = this.rec;
    const recorded = rec?.ops.length ?? 0;
    // Facts before `Full thread dump` (time, pid, version) belong to it only when nothing else
    // comes between: a stray timestamp must not date a later dump. This also makes the lines
    // right before a dump header the only state one part of a split input hands to the next.
    this.pendingTouched = false;
    this.lineBody(lineNo, start, p, end);
    if (!this.pendingTouched && this.pendingLine !== 0) this.clearPending();
    // Any line but a frame or lock line ends a stack being recorded, and it is not kept.
    if (rec !== undefined && this.rec === rec && rec.ops.length === recorded) this.rec = undefined;
  }

  private lineBody(lineNo: number, start: number, p: number, end: number): void {
    const text = this.text;
    const c = text.charCodeAt(p);
    const indented = p > start;
    const inThread = this.mode === Mode.Thread || this.mode === Mode.Ownable;

    if (c === CH_a && indented && text.startsWith('at ', p)) {
      if (inThread) {
        const t = this.thread!;
        const fresh = this.mode === Mode.Thread && t.frames.length === 0 && t.locks.length === 0;
        if (this.mode === Mode.Ownable) this.mode = Mode.Thread;
        const frame = this.frameAt(t, p + 3, end);
        if (fresh && t.mountedVirtualThread === undefined && this.prefix === undefined) {
          if (this.replayBlock(t, frame, start)) return;
          this.rec = { start, first: frame, ops: [] };
        }
        t.addFrame(frame);
        this.rec?.ops.push(frame);
        return;
      }
      if (this.mode === Mode.DeadlockStacks) return;
      return this.unparsed(lineNo, start, end);
    }
    if (c === CH_DASH && indented && text.charCodeAt(p + 1) === CH_SPACE) {
      if (inThread) {
        if (this.lockLine(p + 2, end)) return;
        return this.unparsed(lineNo, start, end);
      }
      if (this.mode === Mode.DeadlockStacks) return;
      return this.unparsed(lineNo, start, end);
    }
    if (c === CH_QUOTE && (!indented || !inThread)) {
      if (text.charCodeAt(end - 1) === 58 && text.charCodeAt(end - 2) === CH_QUOTE) {
        // `"name":` opens an entry in a deadlock report, or a stack in its second half.
        if (this.mode === Mode.Deadlock) return this.deadlockThread(text.slice(p + 1, end - 2));
        if (this.mode === Mode.DeadlockStacks) return;
      }
      return this.header(lineNo, start, p, end);
    }
    if (inThread && indented) {
      if (this.threadDetail(p, end)) return;
      return this.unparsed(lineNo, start, end);
    }
    if (this.topLevel(lineNo, p, end, indented)) return;
    this.unparsed(lineNo, start, end);
  }

  private unparsed(lineNo: number, start: number, end: number): void {
    this.ctx.unparsedLine(lineNo, start, end);
  }

  // ---- thread blocks ------------------------------------------------------------------------

  private header(lineNo: number, start: number, p: number, end: number): void {
    this.endThread();
    const text = this.text;
    // The last quote on the line closes the name (names may hold quotes).
    const close = text.lastIndexOf('"', end - 1);
    if (close > p && this.jmxLike(close + 1, end)) {
      const m = JMX_HEADER.exec(text.slice(p, end));
      if (m !== null) return this.jmxHeader(lineNo, m);
    }
    if (close <= p) return this.malformed(lineNo, start, end, 'thread header without closing quote');
    const t = new ThreadRecord(this.strAt(p + 1, close), lineNo);
    let recognized = 0;
    let rollcall = false;
    // The status words (`waiting on condition`) are the tokens no field claims; usually one run.
    let statusStart = -1;
    let statusEnd = -1;
    let status: string | undefined;
    let a = close + 1;
    while (a <= end) {
      let b = text.indexOf(' ', a);
      if (b < 0 || b > end) b = end;
      if (b > a) {
        const r = this.headerToken(t, a, b);
        if (r === Token.Field || r === Token.RollcallField) {
          recognized++;
          if (r === Token.RollcallField) rollcall = true;
        } else if (r === Token.Status) {
          if (statusStart < 0) {
            statusStart = a;
            statusEnd = b;
          } else if (status === undefined && a === statusEnd + 1) statusEnd = b;
          else {
            status = (status ?? text.slice(statusStart, statusEnd)) + ' ' + text.slice(a, b);
          }
        }
      }
      a = b + 1;
    }
    if (recognized === 0) return this.malformed(lineNo, start, end, 'thread header without any known field');
    const detail =
      statusStart < 0 ? '' : status !== undefined ? this.ctx.strings.get(status) : this.strAt(statusStart, statusEnd);
    t.stateDetail = detail;
    t.state = stateFromStatus(detail);
    this.thread = t;
    this.threadFormat = rollcall || this.ctx.current?.format === 'rollcall-text' ? 'rollcall-text' : 'jstack';
    this.mode = Mode.Thread;
  }

  /** The JMX form (`"name" Id=12 in BLOCKED`), told apart from jstack's by its fields. */
  private jmxLike(rs: number, end: number): boolean {
    const text = this.text;
    // Searches within the line only (a slice of it): jstack's ` tid=` rules JMX out at once.
    const rest = text.slice(rs, end);
    if (rest.includes(' tid=') || rest.includes(' nid=') || !(rest.includes(' Id=') || rest.includes(' id=')))
      return false;
    return / (?:daemon |prio=\d+ )*[Ii]d=\d+ /.test(rest + ' ');
  }

  /** One space-separated token text[a, b) after the thread name. */
  private headerToken(t: ThreadRecord, a: number, b: number): Token {
    const text = this.text;
    const c0 = text.charCodeAt(a);
    if (c0 === 35 /* # */) {
      const n = numberAt(text, a + 1, b);
      if (Number.isInteger(n)) {
        t.javaId = n;
        return Token.Field;
      }
    } else if (c0 === 91 /* [ */ && text.charCodeAt(b - 1) === 93) {
      if (text.startsWith('0x', a + 1) && b - a > 3) return Token.Skipped; // the stack address ending the line
      const n = numberAt(text, a + 1, b - 1);
      if (Number.isInteger(n)) {
        t.osThreadId = n;
        return Token.Field;
      }
    } else if (b - a === 6 && text.startsWith('daemon', a)) {
      t.daemon = true;
      return Token.Field;
    }
    for (let eq = a + 1; eq < b; eq++) if (text.charCodeAt(eq) === 61 /* = */) return this.headerField(t, a, eq, b);
    return Token.Status;
  }

  /** `key=value` in a header: text[a, eq) is the key, text[eq + 1, b) the value. */
  private headerField(t: ThreadRecord, a: number, eq: number, b: number): Token {
    const text = this.text;
    const v = eq + 1;
    switch (eq - a) {
      case 3:
        if (text.startsWith('tid', a)) {
          t.tid = this.strAt(v, b);
          return Token.Field;
        }
        if (text.startsWith('nid', a)) {
          t.nid = this.nidAt(v, b);
          return Token.Field;
        }
        if (text.startsWith('cpu', a)) {
          t.cpuMs = durationMsAt(text, v, b);
          return Token.Field;
        }
        break;
      case 4:
        if (text.startsWith('prio', a)) {
          t.priority = numberAt(text, v, b);
          return Token.Field;
        }
        if (text.startsWith('pool', a)) {
          (t.rollcall ??= {}).pool = this.strAt(v, b);
          return Token.RollcallField;
        }
        break;
      case 7:
        if (text.startsWith('os_prio', a)) {
          t.osPriority = numberAt(text, v, b);
          return Token.Field;
        }
        if (text.startsWith('elapsed', a)) {
          t.elapsedMs = durationMsAt(text, v, b);
          return Token.Field;
        }
        break;
      case 8:
        if (text.startsWith('progress', a)) {
          (t.rollcall ??= {}).progress = numberAt(text, v, b);
          return Token.RollcallField;
        }
        break;
      case 9:
        if (text.startsWith('allocated', a)) {
          t.allocatedBytes = parseByteSize(text.slice(v, b));
          return Token.Field;
        }
        if (text.startsWith('completed', a)) {
          (t.rollcall ??= {}).completed = numberAt(text, v, b);
          return Token.RollcallField;
        }
        break;
      case 15:
        if (text.startsWith('defined_classes', a)) {
          t.definedClasses = numberAt(text, v, b);
          return Token.Field;
        }
        break;
    }
    return Token.Status;
  }

  /** `nid=0x4745` or `nid=18179`: a number when it parses, else the text. */
  private nidAt(v: number, b: number): number | string {
    const text = this.text;
    let n: number;
    if (b - v >= 2 && text.startsWith('0x', v)) {
      let digits = 0;
      let x = 0;
      for (let i = v + 2; i < b; i++) {
        const d = hexDigit(text.charCodeAt(i));
        if (d < 0) break;
        x = x * 16 + d;
        digits++;
      }
      // parseInt takes what this loop does not (a second 0x, a sign, whitespace, > 13 digits).
      n = digits > 0 && digits <= 13 ? x : parseInt(text.slice(v + 2, b), 16);
    } else n = numberAt(text, v, b);
    return Number.isFinite(n) && b > v ? n : this.strAt(v, b);
  }

  /** text[a, b) as a shared copy (a slice of the window must not be kept: it pins the window). */
  private strAt(a: number, b: number): string {
    const slice = this.text.slice(a, b);
    const strings = this.ctx.strings;
    return strings.lookup(slice) ?? strings.add(this.copyOf(a, b, slice));
  }

  /** A string of its own for text[a, b): decoded again from the bytes when they are ASCII. */
  private copyOf(a: number, b: number, slice: string): string {
    const bytes = this.bytes;
    return bytes !== undefined ? bytes.toString('latin1', this.byteStart + a, this.byteStart + b) : detach(slice);
  }

  private jmxHeader(lineNo: number, m: RegExpExecArray): void {
    const t = new ThreadRecord(this.ctx.strings.get(m[1]!), lineNo);
    t.daemon = m[2] !== undefined;
    if (m[3] !== undefined) t.priority = Number(m[3]);
    t.javaId = Number(m[4]);
    t.state = normalizeState(m[5]!);
    const tail = m[6]!;
    t.stateDetail = this.ctx.strings.get((m[5]! + tail).trim());
    const on = tail.indexOf(' on ');
    if (on >= 0) {
      const owned = tail.indexOf(' owned by ', on);
      t.waitingOnText = this.ctx.strings.get(tail.slice(on + 4, owned < 0 ? undefined : owned).trim());
      if (owned >= 0) t.blockedByText = this.ctx.strings.get(tail.slice(owned + 10).trim());
    }
    this.thread = t;
    this.threadFormat = 'jmx';
    this.mode = Mode.Thread;
    const d = this.ctx.current;
    if (d !== undefined && d.threads.length === 0 && d.format === 'jstack') d.format = 'jmx';
  }

  private malformed(lineNo: number, start: number, end: number, message: string): void {
    this.ctx.error(lineNo, message);
    this.unparsed(lineNo, start, end);
    this.mode = Mode.Skip;
  }

  private endThread(): void {
    const t = this.thread;
    if (t === undefined) return;
    this.thread = undefined;
    this.ctx.addThread(t, this.threadFormat);
    if (t.frames.length > 0) this.previousFrames = t.frames;
  }

  /**
   * Threads print the same stacks again and again (idle pools, the same thread in every sample),
   * so a thread's run of frame and lock lines that ended at a blank line is kept, keyed by its
   * first frame and length. When a thread's first frame line starts such a run again, the whole
   * run is compared in one go and its frames and locks are replayed instead of parsed line by
   * line: the same calls, in the same order, as parsing those lines would make.
   */
  private replayBlock(t: ThreadRecord, first: Frame, start: number): boolean {
    const text = this.text;
    if (this.sepAt < start) {
      const at = text.indexOf(this.crlf ? '\r\n\r\n' : '\n\n', start);
      this.sepAt = at < 0 ? text.length : at;
    }
    if (this.sepAt >= text.length) return false;
    const blockEnd = this.sepAt + (this.crlf ? 2 : 1);
    const len = blockEnd - start;
    if (len >= MAX_BLOCK_CHARS) return false;
    const block = this.memo.blocks.get(first.id * MAX_BLOCK_CHARS + len);
    if (block === undefined || text.slice(start, blockEnd) !== block.text) return false;
    // The caller replays only onto a thread with no frames or locks yet.
    if (block.made !== undefined) t.replayStack(block.made.frames, block.made.locks, block.made.key);
    else {
      for (const op of block.ops) {
        if ('id' in op) t.addFrame(op);
        else t.addLock(op.kind, op.address, op.className);
      }
    }
    this.skipTo = blockEnd;
    this.skipLines = block.lines - 1;
    return true;
  }

  /** The recorded run ends at the blank line starting at `end`: keep it for replayBlock. */
  private keepBlock(end: number): void {
    const rec = this.rec!;
    this.rec = undefined;
    const len = end - rec.start;
    if (len >= MAX_BLOCK_CHARS || this.memo.blockChars + len > MAX_BLOCKS_CHARS) return;
    const key = rec.first.id * MAX_BLOCK_CHARS + len;
    if (this.memo.blocks.has(key)) return;
    // One op per line: every line of the run was a frame or a lock. The lock strings may be
    // slices of this window (UnsharedStrings); the memo outlives it.
    const ops = rec.ops.map((op) =>
      'id' in op ? op : { kind: op.kind, address: detach(op.address), className: detach(op.className) },
    );
    this.memo.blocks.set(key, {
      text: detach(this.text.slice(rec.start, end)),
      ops,
      lines: ops.length,
      ...madeOf(ops),
    });
    this.memo.blockChars += len;
  }

  /**
   * The frame text[start, end). Frames repeat endlessly within a dump, so before interning (which
   * slices and hashes the whole line) two cheap guesses are compared in place: the frame at the
   * same depth in the previous thread (idle pools print the same stack again and again), then the
   * last frame seen with the same length and a few same characters.
   */
  private frameAt(t: ThreadRecord, start: number, end: number): Frame {
    const text = this.text;
    const len = end - start;
    // slice + === compares with memcmp; startsWith goes character by character.
    const line = text.slice(start, end);
    const guess = this.previousFrames[t.frames.length];
    if (guess !== undefined && guess.text === line) return guess;
    const key =
      (len * 65599 +
        text.charCodeAt(end - 2) * 257 +
        text.charCodeAt(end - 5) * 31 +
        text.charCodeAt(start + (len >> 1))) |
      0;
    const seen = this.memo.recentFrames.get(key);
    if (seen !== undefined && seen.text === line) return seen;
    const frame = this.ctx.frames.intern(line);
    if (this.memo.recentFrames.size < MAX_RECENT_FRAMES) this.memo.recentFrames.set(key, frame);
    return frame;
  }

  /** `- locked <0x…> (a X)` and friends; `text` from just after `- `. */
  private lockLine(p: number, end: number): boolean {
    const text = this.text;
    const t = this.thread!;
    if (this.mode === Mode.Ownable) {
      if (text.startsWith('None', p)) return true;
      const s = this.parseLockTarget(p, end);
      if (s === undefined) return false;
      t.addSynchronizer(s);
      return true;
    }
    // JMX prints two spaces after the dash: `-  locked java.lang.Object@1b6d3586`.
    while (p < end && text.charCodeAt(p) === CH_SPACE) p++;
    let kind: LockKind;
    let q: number;
    if (text.startsWith('locked ', p)) {
      kind = 'locked';
      q = p + 7;
    } else if (text.startsWith('waiting to lock ', p)) {
      kind = 'waiting-to-lock';
      q = p + 16;
    } else if (text.startsWith('waiting on ', p)) {
      kind = 'waiting-on';
      q = p + 11;
    } else if (text.startsWith('parking to wait for ', p)) {
      kind = 'parking';
      q = p + 20;
    } else if (text.startsWith('waiting to re-lock in wait() ', p)) {
      kind = 'waiting-to-re-lock';
      q = p + 29;
    } else if (text.startsWith('eliminated ', p)) {
      kind = 'eliminated';
      q = p + 11;
    } else if (text.startsWith('blocked on ', p)) {
      kind = 'blocked-on';
      q = p + 11;
    } else if (text.startsWith('rollcall: ', p)) {
      return this.rollcallLine(p + 10, end);
    } else return false;
    while (q < end && text.charCodeAt(q) === CH_SPACE) q++;
    const target = this.parseLockTarget(q, end);
    if (target === undefined) return false;
    t.addLock(kind, target.address, target.className);
    this.rec?.ops.push({ kind, address: target.address, className: target.className });
    return true;
  }

  /** `<0x…> (a X)`, `<no object reference available>`, `<owner is scalar replaced> (a X)`, `X@1a2b`. */
  private parseLockTarget(p: number, end: number): { address: string; className: string } | undefined {
    const text = this.text;
    const strings = this.ctx.strings;
    if (text.charCodeAt(p) === 60 /* < */) {
      const gt = text.indexOf('>', p);
      if (gt < 0 || gt >= end) return undefined;
      const address = gt - p >= 3 && text.startsWith('0x', p + 1) ? this.strAt(p + 1, gt) : '';
      const a = text.indexOf('(a ', gt);
      let className = '';
      if (a >= 0 && a < end) {
        const close = text.lastIndexOf(')', end);
        className = this.strAt(a + 3, close > a ? close : end);
      }
      return { address, className };
    }
    const s = text.slice(p, end).trim();
    if (s.length === 0) return undefined;
    const at = s.lastIndexOf('@');
    if (at > 0) return { address: strings.get(s.slice(at + 1)), className: strings.get(s.slice(0, at)) };
    return { address: '', className: strings.get(s) };
  }

  /** Indented lines in a thread block other than frames and lock lines. */
  private threadDetail(p: number, end: number): boolean {
    const text = this.text;
    const t = this.thread!;
    if (text.startsWith('java.lang.Thread.State: ', p)) {
      const a = p + 24;
      // trim() is the identity when both ends are visible ASCII; only then is the range used as is.
      const plain = a < end && isVisibleAscii(text.charCodeAt(a)) && isVisibleAscii(text.charCodeAt(end - 1));
      const detail = plain ? this.strAt(a, end) : this.ctx.strings.get(text.slice(a, end).trim());
      let state = this.memo.stateOfDetail.get(detail);
      if (state === undefined) {
        const sp = detail.indexOf(' ');
        state = normalizeState(sp < 0 ? detail : detail.slice(0, sp));
        if (this.memo.stateOfDetail.size < MAX_RECENT_STRINGS) this.memo.stateOfDetail.set(detach(detail), state);
      }
      t.state = state;
      t.stateDetail = detail;
      return true;
    }
    if (text.startsWith('Locked ownable synchronizers:', p) || text.startsWith('Locked synchronizers: count', p)) {
      this.mode = Mode.Ownable;
      return true;
    }
    if (text.startsWith('Number of locked synchronizers', p)) {
      this.mode = Mode.Ownable;
      return true;
    }
    if (text.startsWith('Carrying virtual thread #', p)) {
      const n = Number(text.slice(p + 25, end).trim());
      if (!Number.isInteger(n)) return false;
      t.carryingVirtualThread = n;
      // A carrier runs its virtual thread; jstack prints no state line for it.
      if (t.state === 'UNKNOWN') {
        t.state = 'RUNNABLE';
        t.stateDetail = this.ctx.strings.get(text.slice(p, end).trim());
      }
      return true;
    }
    if (text.startsWith('Mounted virtual thread #', p)) {
      const n = Number(text.slice(p + 24, end).trim());
      if (!Number.isInteger(n)) return false;
      t.mount(n);
      return true;
    }
    if (text.startsWith('No compile task', p) || text.startsWith('Compiling:', p)) return true;
    if (text.startsWith('...', p)) {
      t.truncated = true;
      return true;
    }
    return false;
  }

  // ---- rollcall extras ----------------------------------------------------------------------

  private rollcallLine(p: number, end: number): boolean {
    const t = this.thread!;
    const body = this.text.slice(p, end).trim();
    const info = (t.rollcall ??= {});
    if (body === 'idle') {
      info.idle = true;
      return true;
    }
    const mono = this.ctx.current?.monotonicMs ?? 0;
    const kv = (from: number): Map<string, string> => {
      const m = new Map<string, string>();
      for (const tok of body.slice(from).split(' ')) {
        const eq = tok.indexOf('=');
        if (eq > 0) m.set(tok.slice(0, eq), tok.slice(eq + 1));
      }
      return m;
    };
    const num = (v: string | undefined): number => (v === undefined ? NaN : Number(v));
    const since = (m: Map<string, string>): { sinceMs?: number } =>
      m.has('forMs') ? { sinceMs: mono - num(m.get('forMs')) } : {};
    const s = this.ctx.strings;
    if (body.startsWith('serving ')) {
      const m = kv(8);
      const serving: Serving = {
        callId: num(m.get('call')),
        method: s.get(m.get('method') ?? ''),
        callerNode: s.get(m.get('caller') ?? ''),
        callerThreadId: num(m.get('callerThread')),
        sinceMs: mono - (m.has('forMs') ? num(m.get('forMs')) : 0),
      };
      info.serving = serving;
      return true;
    }
    let wait: (WaitDescriptor & { sinceMs?: number }) | undefined;
    if (body.startsWith('waiting on rpc ')) {
      const m = kv(15);
      wait = {
        kind: 'rpc',
        callId: num(m.get('call')),
        method: s.get(m.get('method') ?? ''),
        target: s.get(m.get('target') ?? ''),
        ...(m.has('addr') ? { targetAddr: s.get(m.get('addr')!) } : {}),
        deadlineMs: mono + num(m.get('deadlineInMs')),
        ...since(m),
      };
    } else if (body.startsWith('waiting on barrier ')) {
      const m = kv(19);
      const missing = m.get('missing');
      const phase = m.get('phase');
      wait = {
        kind: 'barrier',
        procedure: s.get(m.get('procedure') ?? ''),
        instance: s.get(m.get('instance') ?? ''),
        phase: phase === 'acquired' || phase === 'reached' || phase === 'completed' ? phase : 'acquired',
        missing: missing === undefined || missing === '-' ? [] : missing.split(',').map((x) => s.get(x)),
        ...since(m),
      };
    } else if (body.startsWith('waiting on queue ')) {
      const m = kv(17);
      wait = {
        kind: 'queue',
        queue: s.get(m.get('queue') ?? ''),
        ...(m.has('owner') ? { owner: s.get(m.get('owner')!) } : {}),
        ...since(m),
      };
    } else if (body.startsWith('waiting on lock ')) {
      const m = kv(16);
      const owner = m.get('owner');
      const hash = owner === undefined ? -1 : owner.lastIndexOf('#');
      wait = {
        kind: 'lock',
        lock: s.get(m.get('lock') ?? ''),
        ...(owner !== undefined && hash > 0
          ? { owner: { node: s.get(owner.slice(0, hash)), threadId: Number(owner.slice(hash + 1)) } }
          : {}),
        ...since(m),
      };
    } else if (body.startsWith('sleeping ')) {
      const m = kv(9);
      wait = {
        kind: 'timer',
        reason: s.get(m.get('reason') ?? ''),
        untilMs: mono + num(m.get('untilInMs')),
        ...since(m),
      };
    } else if (body.startsWith('waiting on io ')) {
      const m = kv(14);
      wait = { kind: 'io', what: s.get(m.get('what') ?? ''), ...since(m) };
    }
    if (wait === undefined) return false;
    info.wait = wait;
    return true;
  }

  // ---- everything outside thread blocks -----------------------------------------------------

  private topLevel(lineNo: number, p: number, end: number, indented: boolean): boolean {
    const text = this.text;
    const c = text.charCodeAt(p);
    switch (this.mode) {
      case Mode.Smr:
        if (c === 95 /* _ */ || (c === 48 && text.charCodeAt(p + 1) === 120) /* 0x */) return true;
        if (c === 125 /* } */) {
          this.mode = Mode.None;
          return true;
        }
        break;
      case Mode.Heap:
        if (indented) return true;
        break;
      case Mode.Deadlock:
        if (indented) return this.deadlockDetail(p, end);
        if (c === 61 /* = */) return true;
        if (text.startsWith('Java stack information for the threads listed above:', p)) {
          this.mode = Mode.DeadlockStacks;
          return true;
        }
        break;
      case Mode.DeadlockStacks:
        if (c === 61) return true;
        break;
      case Mode.Pools:
        if (indented) return this.poolLine(p, end);
        break;
      default:
        break;
    }
    if (text.startsWith('Full thread dump ', p)) {
      this.endThread();
      this.startDump(lineNo, text.slice(p + 17, end));
      return true;
    }
    if (c >= 48 && c <= 57) {
      const ts = parseTimestampLine(text.slice(p, end).trimEnd());
      if (ts !== undefined) {
        if (this.ctx.dumps.length === 0) this.leadEndsThread = true;
        this.endThread();
        this.mode = Mode.None;
        this.pending(lineNo);
        this.pendingTimeMs = ts;
        return true;
      }
      if (text.charCodeAt(end - 1) === 58 /* : */) {
        const pid = Number(text.slice(p, end - 1));
        if (Number.isInteger(pid)) {
          if (this.ctx.dumps.length === 0) this.leadEndsThread = true;
          this.endThread();
          this.mode = Mode.None;
          this.pending(lineNo);
          this.pendingPid = pid;
          return true;
        }
      }
      return false;
    }
    const versionAt = text.startsWith('JDK version:', p) ? 12 : text.startsWith('JVM version is ', p) ? 15 : 0;
    if (versionAt > 0) {
      this.pending(lineNo);
      this.pendingVersion = this.ctx.strings.get(text.slice(p + versionAt, end).trim());
      return true;
    }
    if (indented) return false;
    if (text.startsWith('Threads class SMR info:', p)) {
      this.endThread();
      this.mode = Mode.Smr;
      return true;
    }
    if (text.startsWith('JNI global ref', p)) {
      this.endThread();
      this.mode = Mode.None;
      const colon = text.indexOf(':', p);
      const n = parseInt(text.slice(colon + 1, end).trim(), 10);
      const d = this.ctx.current;
      if (d !== undefined && Number.isInteger(n)) d.jniGlobalRefs = n;
      return true;
    }
    if (text.startsWith('Found one Java-level deadlock:', p)) {
      this.endThread();
      this.mode = Mode.Deadlock;
      const d = this.ctx.current ?? this.ctx.startDump('jstack', lineNo);
      this.deadlock = { line: lineNo, entries: [] };
      d.deadlocks.push(this.deadlock);
      return true;
    }
    if (
      text.startsWith('Found ', p) &&
      /^Found (?:\d+|a total of \d+) deadlocks?\.?$/.test(text.slice(p, end).trim())
    ) {
      this.endThread();
      this.mode = Mode.None;
      return true;
    }
    if (text.startsWith('No deadlocks found', p)) return true;
    if (end - p === 4 && text.startsWith('Heap', p)) {
      this.endThread();
      this.mode = Mode.Heap;
      return true;
    }
    if (text.startsWith('rollcall pools:', p)) {
      this.endThread();
      this.mode = Mode.Pools;
      (this.ctx.current ?? this.ctx.startDump('rollcall-text', lineNo)).pools ??= [];
      return true;
    }
    if (text.startsWith('<EndOfDump>', p)) {
      this.endThread();
      this.mode = Mode.None;
      this.ctx.current = undefined;
      return true;
    }
    if (
      text.startsWith('Attaching to process ID', p) ||
      text.startsWith('Debugger attached successfully', p) ||
      text.startsWith('Server compiler detected', p) ||
      text.startsWith('Client compiler detected', p)
    ) {
      // The serviceability agent's banner comes before its dump: it keeps the facts pending.
      this.pendingTouched = true;
      return true;
    }
    return false;
  }

  private pending(lineNo: number): void {
    this.pendingTouched = true;
    if (this.pendingLine === 0) this.pendingLine = lineNo;
  }

  private clearPending(): void {
    this.pendingLine = 0;
    this.pendingTimeMs = undefined;
    this.pendingPid = undefined;
    this.pendingVersion = undefined;
  }

  private startDump(lineNo: number, title: string): void {
    const rollcall = title.startsWith('rollcall ');
    const d = this.ctx.startDump(rollcall ? 'rollcall-text' : 'jstack', this.pendingLine || lineNo);
    const version = title.endsWith(':') ? title.slice(0, -1) : title;
    d.jvmVersion = this.ctx.strings.get(this.pendingVersion ?? version);
    if (this.pendingTimeMs !== undefined) d.capturedAtMs = this.pendingTimeMs;
    if (this.pendingPid !== undefined) d.pid = this.pendingPid;
    if (rollcall) {
      const open = version.indexOf(' (');
      if (open > 0) {
        d.jvmVersion = this.ctx.strings.get(version.slice(0, open));
        for (const tok of version.slice(open + 2, version.lastIndexOf(')')).split(' ')) {
          const eq = tok.indexOf('=');
          if (eq <= 0) continue;
          const v = tok.slice(eq + 1);
          switch (tok.slice(0, eq)) {
            case 'node':
              if (this.ctx.node === undefined) d.node = this.ctx.strings.get(v);
              break;
            case 'role':
              d.role = this.ctx.strings.get(v);
              break;
            case 'pid':
              d.pid = Number(v);
              break;
            case 'monotonicMs':
              d.monotonicMs = Number(v);
              break;
          }
        }
      }
    }
    this.clearPending();
    this.mode = Mode.None;
  }

  private deadlockThread(name: string): void {
    this.deadlock?.entries.push({
      thread: this.ctx.strings.get(name),
      waitingToLock: '',
      lockKind: 'other',
      heldBy: '',
    });
  }

  private deadlockDetail(p: number, end: number): boolean {
    const entry = this.deadlock?.entries[this.deadlock.entries.length - 1];
    if (entry === undefined) return false;
    const text = this.text;
    const s = this.ctx.strings;
    let line = text.slice(p, end).trim();
    if (line.endsWith(',')) line = line.slice(0, -1);
    if (line.startsWith('waiting to lock ') || line.startsWith('waiting for ownable synchronizer ')) {
      const monitor = line.startsWith('waiting to lock monitor');
      const ownable = line.startsWith('waiting for ownable synchronizer ');
      entry.waitingToLock = s.get(line.slice(ownable ? 33 : 16));
      entry.lockKind = monitor ? 'monitor' : ownable ? 'ownable' : 'other';
      // monitor 0x… (object 0x…, a X)  |  ownable synchronizer 0x…, (a X)
      const obj = /\(object (0x[0-9a-fA-F]+), a ([^)]+)\)/.exec(line);
      if (obj !== null) {
        entry.lockAddress = s.get(obj[1]!);
        entry.lockClassName = s.get(obj[2]!);
      } else {
        const own = /^(0x[0-9a-fA-F]+),? \(a ([^)]+)\)/.exec(entry.waitingToLock);
        if (own !== null) {
          entry.lockAddress = s.get(own[1]!);
          entry.lockClassName = s.get(own[2]!);
        }
      }
      return true;
    }
    if (line.startsWith('which is held by ')) {
      let held = line.slice(17).trim();
      if (held.startsWith('"') && held.endsWith('"')) held = held.slice(1, -1);
      entry.heldBy = s.get(held);
      return true;
    }
    // JDK 21+: `waiting to lock monitor …,` sometimes followed by extra context lines.
    return line.startsWith('which ') || line.startsWith('in JNI');
  }

  private poolLine(p: number, end: number): boolean {
    const d = this.ctx.current;
    if (d === undefined) return false;
    const pools = (d.pools ??= []);
    const body = this.text.slice(p, end);
    const m = new Map<string, string>();
    for (const tok of body.split(' ')) {
      const eq = tok.indexOf('=');
      if (eq > 0) m.set(tok.slice(0, eq), tok.slice(eq + 1));
    }
    const n = (k: string): number => Number(m.get(k) ?? NaN);
    const s = this.ctx.strings;
    if (body.startsWith('pool=')) {
      const queues = m.get('queues') ?? '';
      pools.push({
        name: s.get(m.get('pool') ?? ''),
        size: n('size'),
        busy: n('busy'),
        idle: n('idle'),
        queueLengths: queues.length === 0 ? [] : queues.split(',').map(Number),
        maxQueueLength: n('maxQueueLength'),
        rejected: n('rejected'),
        completed: n('completed'),
        queuedTotal: n('queuedTotal'),
        queued: [],
      });
      return true;
    }
    if (body.startsWith('queued ') && pools.length > 0) {
      pools[pools.length - 1]!.queued.push({
        callId: n('call'),
        method: s.get(m.get('method') ?? ''),
        callerNode: s.get(m.get('caller') ?? ''),
        callerThreadId: n('callerThread'),
        queue: n('queue'),
      });
      return true;
    }
    return false;
  }
}

/** `1124.82ms`, `0,55ms`, `116459.50s` in text[a, b) → milliseconds. */
function durationMsAt(text: string, a: number, b: number): number {
  if (b - a >= 2 && text.charCodeAt(b - 1) === 115 /* s */) {
    if (text.charCodeAt(b - 2) === 109 /* m */) return decimalAt(text, a, b - 2);
    return decimalAt(text, a, b - 1) * 1000;
  }
  if (b - a === 1 && text.charCodeAt(a) === 115) return decimalAt(text, a, a);
  return decimalAt(text, a, b);
}

/**
 * Number(text.slice(a, b)) without the slice for plain decimals (`12`, `0.55`): digits over a
 * power of ten is correctly rounded when both are exact (≤ 15 digits), so the result is the same
 * double. Anything else goes to Number.
 */
export function numberAt(text: string, a: number, b: number): number {
  const n = plainDecimal(text, a, b, 46 /* . */);
  return n === undefined ? Number(text.slice(a, b)) : n;
}

/** parseDecimal(text.slice(a, b)): a decimal point or a decimal comma. */
function decimalAt(text: string, a: number, b: number): number {
  if (a === b) return NaN;
  const n = plainDecimal(text, a, b, 46) ?? plainDecimal(text, a, b, 44 /* , */);
  return n === undefined ? parseDecimal(text.slice(a, b)) : n;
}

function plainDecimal(text: string, a: number, b: number, point: number): number | undefined {
  // At most 15 characters: every digit string is then an exact integer below 2^53.
  if (b - a > 15 || a === b) return undefined;
  let int = 0;
  let digits = 0;
  let scale = 1;
  let seenPoint = false;
  for (let i = a; i < b; i++) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      int = int * 10 + (c - 48);
      digits++;
      if (seenPoint) scale *= 10;
    } else if (c === point && !seenPoint) seenPoint = true;
    else return undefined;
  }
  if (digits === 0) return undefined;
  return seenPoint ? int / scale : int;
}

/** The frames, lock lines and stack key the ops give a thread with none yet, as addFrame and addLock would. */
function madeOf(ops: readonly (Frame | LockOp)[]): Pick<StackBlock, 'made'> {
  const frames: Frame[] = [];
  const locks: LockLine[] = [];
  for (const op of ops) {
    if ('id' in op) frames.push(op);
    else
      locks.push({
        frame: Math.max(0, frames.length - 1),
        kind: op.kind,
        address: op.address,
        className: op.className,
      });
  }
  if (frames.length > MAX_FRAMES_PER_THREAD || locks.length > MAX_LOCKS_PER_THREAD) return {};
  // Shared by every thread that replays the stack: frozen, so no one adds to it in place.
  return { made: { frames: Object.freeze(frames), locks: Object.freeze(locks), key: stackKeyOf(frames) } };
}

function isVisibleAscii(c: number): boolean {
  return c > 32 && c < 127;
}

function hexDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

export type { ProcessDump };
