// Bookkeeping shared by the parsers: the dumps found so far, every line's fate (parsed or not),
// errors, and the mutable thread records they fill in.
import { defaultFrameTable, defaultStrings, stackKeyOf, type FrameTable, type StringInterner } from './frames.js';
import {
  DEFAULT_MAX_UNPARSED_LISTED,
  MAX_ERRORS_LISTED,
  MAX_FRAMES_PER_THREAD,
  MAX_LOCKS_PER_THREAD,
  MAX_THREADS_PER_DUMP,
  type DumpFormat,
  type Frame,
  type LockKind,
  type LockLine,
  type MountedVirtualThread,
  type NormalizedState,
  type OwnableSynchronizer,
  type ParseErrorInfo,
  type ParseResult,
  type ProcessDump,
  type RollcallThreadInfo,
  type ThreadDump,
  type UnparsedLine,
} from './model.js';

export interface ParseOptions {
  /** Node name for the dumps (a bundle's node); rollcall dumps otherwise name their own node. */
  node?: string;
  /** Keep the text of unparsed lines (for --show-unparsed), up to maxUnparsedListed. */
  keepUnparsed?: boolean;
  maxUnparsedListed?: number;
  /** Where frames are interned; pass one table for all dumps whose stack keys you compare. */
  frames?: FrameTable;
  strings?: StringInterner;
  /** Skip detection. */
  format?: DumpFormat;
}

/**
 * The empty list every new thread starts with. A thread takes a list of its own only when it adds
 * to one (most threads hold no ownable synchronizer; a replayed stack shares its lists), which
 * spares the parser two or three arrays per thread.
 */
const SHARED_EMPTY: never[] = Object.freeze([]) as unknown as never[];
const OWN_FRAMES = 1;
const OWN_LOCKS = 2;
const OWN_SYNCHRONIZERS = 4;

/**
 * A thread under construction; also the final ThreadDump. The common fields are set in the
 * constructor (one shape for V8); the rarer ones (declared, below) only when a dump has them,
 * which keeps the record 112 bytes smaller. toJSON writes them all in their declared order.
 */
export class ThreadRecord implements ThreadDump {
  name: string;
  javaId: number | undefined = undefined;
  tid: string | undefined = undefined;
  nid: number | string | undefined = undefined;
  osThreadId: number | undefined = undefined;
  daemon = false;
  priority: number | undefined = undefined;
  osPriority: number | undefined = undefined;
  state: NormalizedState = 'UNKNOWN';
  stateDetail = '';
  cpuMs: number | undefined = undefined;
  elapsedMs: number | undefined = undefined;
  declare allocatedBytes: number | undefined;
  declare definedClasses: number | undefined;
  declare blockedCount: number | undefined;
  declare blockedTimeMs: number | undefined;
  declare waitedCount: number | undefined;
  declare waitedTimeMs: number | undefined;
  frames: Frame[];
  stackKey = '';
  locks: LockLine[];
  ownableSynchronizers: OwnableSynchronizer[];
  declare carryingVirtualThread: number | undefined;
  declare mountedVirtualThread: MountedVirtualThread | undefined;
  declare virtual: boolean | undefined;
  declare container: string | undefined;
  declare waitingOnText: string | undefined;
  declare blockedByText: string | undefined;
  declare truncated: boolean | undefined;
  declare rollcall: RollcallThreadInfo | undefined;

  /** Which lists are this thread's own (OWN_*): the others are shared, and copied before an add. */
  #owned = 0;

  /** Frames, locks and synchronizers may be given (shared, read-only lists when rebuilt from the wire). */
  constructor(
    name: string,
    readonly line: number,
    frames: Frame[] = SHARED_EMPTY,
    locks: LockLine[] = SHARED_EMPTY,
    ownableSynchronizers: OwnableSynchronizer[] = SHARED_EMPTY,
  ) {
    this.name = name;
    this.frames = frames;
    this.locks = locks;
    this.ownableSynchronizers = ownableSynchronizers;
  }

  /** The fields in their declared order, the rarer ones in their place (undefined ones are left out). */
  toJSON(): Record<string, unknown> {
    return {
      line: this.line,
      name: this.name,
      javaId: this.javaId,
      tid: this.tid,
      nid: this.nid,
      osThreadId: this.osThreadId,
      daemon: this.daemon,
      priority: this.priority,
      osPriority: this.osPriority,
      state: this.state,
      stateDetail: this.stateDetail,
      cpuMs: this.cpuMs,
      elapsedMs: this.elapsedMs,
      allocatedBytes: this.allocatedBytes,
      definedClasses: this.definedClasses,
      blockedCount: this.blockedCount,
      blockedTimeMs: this.blockedTimeMs,
      waitedCount: this.waitedCount,
      waitedTimeMs: this.waitedTimeMs,
      frames: this.frames,
      stackKey: this.stackKey,
      locks: this.locks,
      ownableSynchronizers: this.ownableSynchronizers,
      carryingVirtualThread: this.carryingVirtualThread,
      mountedVirtualThread: this.mountedVirtualThread,
      virtual: this.virtual,
      container: this.container,
      waitingOnText: this.waitingOnText,
      blockedByText: this.blockedByText,
      truncated: this.truncated,
      rollcall: this.rollcall,
    };
  }

  addFrame(frame: Frame): void {
    const frames = this.mountedVirtualThread?.frames ?? this.ownFrames();
    if (frames.length < MAX_FRAMES_PER_THREAD) frames.push(frame);
    else this.truncated = true;
  }

  private ownFrames(): Frame[] {
    if ((this.#owned & OWN_FRAMES) === 0) {
      this.frames = this.frames.slice();
      this.#owned |= OWN_FRAMES;
    }
    return this.frames;
  }

  private ownLocks(): LockLine[] {
    if ((this.#owned & OWN_LOCKS) === 0) {
      this.locks = this.locks.slice();
      this.#owned |= OWN_LOCKS;
    }
    return this.locks;
  }

  /** Lock lines attach to the frame printed last (frame index of the carrier or mounted stack). */
  addLock(kind: LockKind, address: string, className: string): void {
    const m = this.mountedVirtualThread;
    const locks = m?.locks ?? this.ownLocks();
    const frames = m?.frames ?? this.frames;
    if (locks.length < MAX_LOCKS_PER_THREAD)
      locks.push({ frame: Math.max(0, frames.length - 1), kind, address, className });
  }

  /** Frames and lock lines from here on belong to the mounted virtual thread #javaId. */
  mount(javaId: number): void {
    this.mountedVirtualThread = { javaId, frames: [], stackKey: '', locks: [] };
  }

  addSynchronizer(s: OwnableSynchronizer): void {
    if ((this.#owned & OWN_SYNCHRONIZERS) === 0) {
      this.ownableSynchronizers = this.ownableSynchronizers.slice();
      this.#owned |= OWN_SYNCHRONIZERS;
    }
    if (this.ownableSynchronizers.length < MAX_LOCKS_PER_THREAD) this.ownableSynchronizers.push(s);
  }

  /**
   * A stack seen before, on a thread with no frames or locks yet: its frames and lock lines, and its
   * key. The lists are shared (as they are when rebuilt from the wire); an add copies them first.
   */
  replayStack(frames: readonly Frame[], locks: readonly LockLine[], key: string): void {
    this.frames = frames as Frame[];
    this.locks = locks as LockLine[];
    this.#owned &= ~(OWN_FRAMES | OWN_LOCKS);
    this.stackKey = key;
    this.#keyedFrames = frames.length;
  }

  /** Frames the stack key was given for by replayStack (-1: none); frames are only ever added. */
  #keyedFrames = -1;

  finish(): void {
    if (this.#keyedFrames !== this.frames.length) this.stackKey = stackKeyOf(this.frames);
    const m = this.mountedVirtualThread;
    if (m !== undefined) m.stackKey = stackKeyOf(m.frames);
  }
}

export class ParseContext {
  readonly dumps: ProcessDump[] = [];
  current: ProcessDump | undefined;
  unparsedCount = 0;
  readonly unparsed: UnparsedLine[] = [];
  readonly errors: ParseErrorInfo[] = [];
  totalLines = 0;
  readonly frames: FrameTable;
  readonly strings: StringInterner;
  readonly keepUnparsed: boolean;
  readonly maxUnparsedListed: number;
  readonly node: string | undefined;

  constructor(
    /** The input, or the window of it being parsed (positions given to unparsedLine are in it). */
    public text: string,
    options: ParseOptions,
  ) {
    this.frames = options.frames ?? defaultFrameTable;
    this.strings = options.strings ?? defaultStrings;
    this.keepUnparsed = options.keepUnparsed ?? false;
    this.maxUnparsedListed = options.maxUnparsedListed ?? DEFAULT_MAX_UNPARSED_LISTED;
    this.node = options.node;
  }

  /** Counts input line lineNo (text[start, end)) as not understood. */
  unparsedLine(lineNo: number, start: number, end: number): void {
    this.unparsedCount++;
    const d = this.current;
    if (d !== undefined) d.unparsedLines++;
    if (this.keepUnparsed) {
      const entry = { line: lineNo, text: this.text.slice(start, Math.min(end, start + 1000)) };
      if (this.unparsed.length < this.maxUnparsedListed) this.unparsed.push(entry);
      if (d !== undefined && d.unparsed !== undefined && d.unparsed.length < this.maxUnparsedListed)
        d.unparsed.push(entry);
    }
  }

  error(line: number, message: string): void {
    const e = { line, message };
    if (this.errors.length < MAX_ERRORS_LISTED) this.errors.push(e);
    const d = this.current;
    if (d !== undefined && d.errors.length < MAX_ERRORS_LISTED) d.errors.push(e);
  }

  startDump(format: DumpFormat, startLine: number): ProcessDump {
    const d: ProcessDump = {
      node: this.node ?? '',
      format,
      pid: undefined,
      jvmVersion: undefined,
      capturedAtMs: undefined,
      role: undefined,
      monotonicMs: undefined,
      threads: [],
      deadlocks: [],
      pools: undefined,
      jniGlobalRefs: undefined,
      startLine,
      endLine: startLine,
      unparsedLines: 0,
      unparsed: this.keepUnparsed ? [] : undefined,
      errors: [],
    };
    this.dumps.push(d);
    this.current = d;
    return d;
  }

  /** Adds a finished thread to the current dump (starting one if the input had no header). */
  addThread(t: ThreadRecord, format: DumpFormat): void {
    t.finish();
    const d = this.current ?? this.startDump(format, t.line);
    if (d.threads.length < MAX_THREADS_PER_DUMP) d.threads.push(t);
    else this.error(t.line, `more than ${MAX_THREADS_PER_DUMP} threads in one dump; thread '${t.name}' dropped`);
  }

  result(format: DumpFormat | 'unknown', bytes: number): ParseResult {
    for (const d of this.dumps) {
      // Optional fields left undefined would show up as keys; drop them for clean JSON and equality.
      for (const k of Object.keys(d) as (keyof ProcessDump)[]) if (d[k] === undefined) delete d[k];
    }
    return {
      format,
      dumps: this.dumps,
      totalLines: this.totalLines,
      parsedLines: this.totalLines - this.unparsedCount,
      unparsedLines: this.unparsedCount,
      unparsed: this.unparsed,
      errors: this.errors,
      bytes,
    };
  }
}

/** Number of lines as the parsers count them: a final line without '\n' counts. */
export function countLines(text: string): number {
  let n = 0;
  let pos = 0;
  for (;;) {
    const nl = text.indexOf('\n', pos);
    if (nl < 0) break;
    n++;
    pos = nl + 1;
  }
  return pos < text.length ? n + 1 : n;
}

export function normalizeState(word: string): NormalizedState {
  switch (word) {
    case 'RUNNABLE':
    case 'BLOCKED':
    case 'WAITING':
    case 'TIMED_WAITING':
    case 'NEW':
    case 'TERMINATED':
      return word;
    default:
      return 'UNKNOWN';
  }
}

/** State implied by jstack's status words when there is no `java.lang.Thread.State:` line. */
export function stateFromStatus(status: string): NormalizedState {
  if (status.startsWith('runnable')) return 'RUNNABLE';
  if (status.startsWith('waiting for monitor entry')) return 'BLOCKED';
  if (status.startsWith('sleeping')) return 'TIMED_WAITING';
  if (status.startsWith('in Object.wait()') || status.startsWith('waiting on condition')) return 'WAITING';
  return 'UNKNOWN';
}

/** `1124.82`, `0,55` (decimal comma locales) → number; NaN when not a number. */
export function parseDecimal(s: string): number {
  if (s.length === 0) return NaN;
  return Number(s.indexOf(',') >= 0 ? s.replace(',', '.') : s);
}

/** `103M`, `48B`, `120K`, `2G` (binary units, as HotSpot prints them) → bytes. */
export function parseByteSize(s: string): number {
  const unit = s.charCodeAt(s.length - 1);
  const mult = unit === 66 ? 1 : unit === 75 ? 1024 : unit === 77 ? 1024 ** 2 : unit === 71 ? 1024 ** 3 : NaN;
  if (Number.isNaN(mult)) return parseDecimal(s);
  return parseDecimal(s.slice(0, -1)) * mult;
}

/** `2024-01-01 12:00:00` (the JVM prints local time; read as UTC since the zone is not printed). */
export function parseTimestampLine(s: string): number | undefined {
  if (s.length !== 19 || s.charCodeAt(4) !== 45 || s.charCodeAt(10) !== 32 || s.charCodeAt(13) !== 58) return undefined;
  const ms = Date.parse(s.slice(0, 10) + 'T' + s.slice(11) + 'Z');
  return Number.isNaN(ms) ? undefined : ms;
}
