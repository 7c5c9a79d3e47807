// The jstack family: jstack and `jcmd PID Thread.print` (JDK 6–25), JMX ThreadInfo text, and
// rollcall's own text dumps, which are jstack-shaped. One pass over the input, one line at a time,
// deciding by the first characters of a line; regular expressions only on rare lines (headers).
import type { Serving, WaitDescriptor } from '../threads/types.js';
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
  MAX_LINE_CHARS,
  type DumpFormat,
  type Frame,
  type JvmDeadlock,
  type LockKind,
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

const CH_TAB = 9;
const CH_SPACE = 32;
const CH_QUOTE = 34;
const CH_DASH = 45;
const CH_a = 97;

/** Bound on the per-input frame guess cache. */
const MAX_RECENT_FRAMES = 65_536;

const JMX_HEADER = /^"(.*?)" (daemon )?(?:prio=(\d+) )?[Ii]d=(\d+) (?:in )?([A-Z_]+)(.*)$/;

export function parseTextDumps(ctx: ParseContext): void {
  new TextParser(ctx).run();
}

class TextParser {
  private readonly text: string;
  private mode = Mode.None;
  private thread: ThreadRecord | undefined;
  private previousFrames: readonly Frame[] = [];
  private readonly recentFrames = new Map<number, Frame>();
  private threadFormat: DumpFormat = 'jstack';
  private deadlock: JvmDeadlock | undefined;
  /** Facts seen before `Full thread dump` that belong to the dump it starts. */
  private pendingLine = 0;
  private pendingTimeMs: number | undefined;
  private pendingPid: number | undefined;
  private pendingVersion: string | undefined;

  constructor(private readonly ctx: ParseContext) {
    this.text = ctx.text;
  }

  run(): void {
    const text = this.text;
    const len = text.length;
    const prefix = detectLogPrefix(text);
    let pos = 0;
    let lineNo = 0;
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
      if (end - start > MAX_LINE_CHARS) this.ctx.unparsedLine(lineNo, start, end);
      else this.line(lineNo, start, end);
      if (this.ctx.current !== undefined) this.ctx.current.endLine = lineNo;
      pos = nl + 1;
    }
    this.ctx.totalLines = lineNo;
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
      if (this.mode === Mode.Heap) this.mode = Mode.None;
      return;
    }
    const c = text.charCodeAt(p);
    const indented = p > start;
    const inThread = this.mode === Mode.Thread || this.mode === Mode.Ownable;

    if (c === CH_a && indented && text.startsWith('at ', p)) {
      if (inThread) {
        const t = this.thread!;
        if (this.mode === Mode.Ownable) this.mode = Mode.Thread;
        t.addFrame(this.frameAt(t, p + 3, end));
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
    const line = this.text.slice(p, end);
    const close = line.lastIndexOf('"');
    const rest = close > 0 ? line.slice(close + 1) : '';
    const jmxLike =
      (rest.includes(' Id=') || rest.includes(' id=')) && !rest.includes(' tid=') && !rest.includes(' nid=');
    if (close > 0 && jmxLike && / (?:daemon |prio=\d+ )*[Ii]d=\d+ /.test(rest + ' ')) {
      const m = JMX_HEADER.exec(line);
      if (m !== null) return this.jmxHeader(lineNo, m);
    }
    if (close <= 0) return this.malformed(lineNo, start, end, 'thread header without closing quote');
    const t = new ThreadRecord(this.ctx.strings.get(line.slice(1, close)), lineNo);
    let recognized = 0;
    let status = '';
    let rollcall = false;
    for (const tok of rest.split(' ')) {
      if (tok.length === 0) continue;
      const c0 = tok.charCodeAt(0);
      if (c0 === 35 /* # */) {
        const n = Number(tok.slice(1));
        if (Number.isInteger(n)) {
          t.javaId = n;
          recognized++;
          continue;
        }
      } else if (c0 === 91 /* [ */ && tok.charCodeAt(tok.length - 1) === 93) {
        const inner = tok.slice(1, -1);
        if (inner.startsWith('0x')) continue; // the stack address at the end of the line
        const n = Number(inner);
        if (Number.isInteger(n)) {
          t.osThreadId = n;
          recognized++;
          continue;
        }
      } else if (tok === 'daemon') {
        t.daemon = true;
        recognized++;
        continue;
      }
      const eq = tok.indexOf('=');
      if (eq > 0) {
        const key = tok.slice(0, eq);
        const v = tok.slice(eq + 1);
        if (this.headerField(t, key, v)) {
          recognized++;
          if (key === 'progress' || key === 'completed' || key === 'pool') rollcall = true;
          continue;
        }
      }
      status = status.length === 0 ? tok : status + ' ' + tok;
    }
    if (recognized === 0) return this.malformed(lineNo, start, end, 'thread header without any known field');
    t.stateDetail = status.length > 0 ? this.ctx.strings.get(status) : '';
    t.state = stateFromStatus(status);
    this.thread = t;
    this.threadFormat = rollcall || this.ctx.current?.format === 'rollcall-text' ? 'rollcall-text' : 'jstack';
    this.mode = Mode.Thread;
  }

  private headerField(t: ThreadRecord, key: string, v: string): boolean {
    switch (key) {
      case 'prio':
        t.priority = Number(v);
        return true;
      case 'os_prio':
        t.osPriority = Number(v);
        return true;
      case 'tid':
        t.tid = this.ctx.strings.get(v);
        return true;
      case 'nid': {
        const n = v.startsWith('0x') ? parseInt(v.slice(2), 16) : Number(v);
        t.nid = Number.isFinite(n) && v.length > 0 ? n : this.ctx.strings.get(v);
        return true;
      }
      case 'cpu':
        t.cpuMs = durationMs(v);
        return true;
      case 'elapsed':
        t.elapsedMs = durationMs(v);
        return true;
      case 'allocated':
        t.allocatedBytes = parseByteSize(v);
        return true;
      case 'defined_classes':
        t.definedClasses = Number(v);
        return true;
      case 'progress':
        (t.rollcall ??= {}).progress = Number(v);
        return true;
      case 'completed':
        (t.rollcall ??= {}).completed = Number(v);
        return true;
      case 'pool':
        (t.rollcall ??= {}).pool = this.ctx.strings.get(v);
        return true;
      default:
        return false;
    }
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
   * The frame text[start, end). Frames repeat endlessly within a dump, so before interning (which
   * slices and hashes the whole line) two cheap guesses are compared in place: the frame at the
   * same depth in the previous thread (idle pools print the same stack again and again), then the
   * last frame seen with the same length and a few same characters.
   */
  private frameAt(t: ThreadRecord, start: number, end: number): Frame {
    const text = this.text;
    const len = end - start;
    const guess = this.previousFrames[t.frames.length];
    if (guess !== undefined && guess.text.length === len && text.startsWith(guess.text, start)) return guess;
    const key =
      (len * 65599 +
        text.charCodeAt(end - 2) * 257 +
        text.charCodeAt(end - 5) * 31 +
        text.charCodeAt(start + (len >> 1))) |
      0;
    const seen = this.recentFrames.get(key);
    if (seen !== undefined && seen.text.length === len && text.startsWith(seen.text, start)) return seen;
    const frame = this.ctx.frames.intern(text.slice(start, end));
    if (this.recentFrames.size < MAX_RECENT_FRAMES) this.recentFrames.set(key, frame);
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
    return true;
  }

  /** `<0x…> (a X)`, `<no object reference available>`, `<owner is scalar replaced> (a X)`, `X@1a2b`. */
  private parseLockTarget(p: number, end: number): { address: string; className: string } | undefined {
    const text = this.text;
    const strings = this.ctx.strings;
    if (text.charCodeAt(p) === 60 /* < */) {
      const gt = text.indexOf('>', p);
      if (gt < 0 || gt >= end) return undefined;
      const inner = text.slice(p + 1, gt);
      const address = inner.startsWith('0x') ? strings.get(inner) : '';
      const a = text.indexOf('(a ', gt);
      let className = '';
      if (a >= 0 && a < end) {
        const close = text.lastIndexOf(')', end);
        className = strings.get(text.slice(a + 3, close > a ? close : end));
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
      const detail = text.slice(p + 24, end).trim();
      const sp = detail.indexOf(' ');
      t.state = normalizeState(sp < 0 ? detail : detail.slice(0, sp));
      t.stateDetail = this.ctx.strings.get(detail);
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
        this.endThread();
        this.mode = Mode.None;
        this.pending(lineNo);
        this.pendingTimeMs = ts;
        return true;
      }
      if (text.charCodeAt(end - 1) === 58 /* : */) {
        const pid = Number(text.slice(p, end - 1));
        if (Number.isInteger(pid)) {
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
      return true;
    }
    return false;
  }

  private pending(lineNo: number): void {
    if (this.pendingLine === 0) this.pendingLine = lineNo;
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
    this.pendingLine = 0;
    this.pendingTimeMs = undefined;
    this.pendingPid = undefined;
    this.pendingVersion = undefined;
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

/** `1124.82ms`, `0,55ms`, `116459.50s` → milliseconds. */
function durationMs(v: string): number {
  if (v.endsWith('ms')) return parseDecimal(v.slice(0, -2));
  if (v.endsWith('s')) return parseDecimal(v.slice(0, -1)) * 1000;
  return parseDecimal(v);
}

export type { ProcessDump };
