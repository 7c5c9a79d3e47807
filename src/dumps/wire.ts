// Parse results cross from a parsing worker to the main thread in a compact form: every thread's
// fields as numbers in two typed arrays, and strings, frames and whole stacks as small integers
// into tables that each side keeps. A table entry crosses once; after that a thread's name or
// stack costs four bytes. The main thread rebuilds the same ThreadDump objects a parser in its
// own thread would have made (same classes, same fields, frames interned in its FrameTable), so
// nothing downstream can tell where a dump was parsed.
import { ThreadRecord } from './context.js';
import { detach, stackKeyOf, type FrameTable } from './frames.js';
import {
  LOCK_KINDS,
  NORMALIZED_STATES,
  type Frame,
  type LockLine,
  type MountedVirtualThread,
  type OwnableSynchronizer,
  type ParseErrorInfo,
  type ParseResult,
  type ProcessDump,
  type RollcallThreadInfo,
  type NormalizedState,
  type ThreadDump,
  type UnparsedLine,
} from './model.js';

/** Entries a worker's tables may hold before it starts a new generation (and the main thread drops the old). */
export const MAX_WIRE_TABLE_ENTRIES = 4_000_000;
/** Mask bit: the tid is sent as a number (tidNumber), in `nums` after carryingVirtualThread. */
const TID_NUMBER = 1 << 14;
/** Thread pointers' texts a decoder keeps. */
const MAX_TID_TEXTS = 1 << 20;

/**
 * A tid in HotSpot's form, `0x` and 16 lowercase hex digits, as its number: -1 for any other
 * form, or one whose value a double does not hold exactly (tidText gives the text back).
 */
export function tidNumber(s: string): number {
  if (s.length !== 18 || s.charCodeAt(0) !== 48 || s.charCodeAt(1) !== 120) return -1;
  let n = 0;
  for (let i = 2; i < 18; i++) {
    const c = s.charCodeAt(i);
    const d = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : -1;
    if (d < 0) return -1;
    n = n * 16 + d;
  }
  return n <= Number.MAX_SAFE_INTEGER ? n : -1;
}

export function tidText(n: number): string {
  return '0x' + n.toString(16).padStart(16, '0');
}

/** Shared lock lists whose encoding the encoder keeps (WireEncoder.locks). */
const MAX_SHARED_LOCK_LISTS = 65_536;

const STATES = NORMALIZED_STATES;
const STATE_CODE = new Map(STATES.map((s, i) => [s, i]));
const LOCK_CODE = new Map(LOCK_KINDS.map((s, i) => [s, i]));

// flags
const F_STATE = 7;
const F_DAEMON = 1 << 3;
const F_VIRTUAL_SET = 1 << 4;
const F_VIRTUAL = 1 << 5;
const F_TRUNCATED_SET = 1 << 6;
const F_TRUNCATED = 1 << 7;
const F_MOUNTED = 1 << 8;
const F_ROLLCALL = 1 << 9;

/**
 * Optional fields follow a thread's fixed ones in this order, each present when its mask bit is
 * set: numbers (in `nums`) javaId, nid, osThreadId, priority, osPriority, cpuMs, elapsedMs,
 * allocatedBytes, definedClasses, blockedCount, blockedTimeMs, waitedCount, waitedTimeMs,
 * carryingVirtualThread at bits 0–13, then a tid in HotSpot's form as a number at bit 14
 * (TID_NUMBER); strings (ids in `ints`) tid (any other form), nid, container,
 * waitingOnText, blockedByText at bits STR_BIT0 + 0–4. Encoder and decoder spell the order out
 * field by field: a table of accessors costs a closure call per field per thread.
 */
const STR_BIT0 = 16;
/** Optional fields most threads lack (numbers from allocatedBytes on; container and the JMX texts). */
const RARE_FIELDS = 0x3f80 | (0b11100 << STR_BIT0);
/** Flags most threads lack: virtual, truncated, a mounted virtual thread, rollcall's own fields. */
const RARE_FLAGS = F_VIRTUAL_SET | F_TRUNCATED_SET | F_MOUNTED | F_ROLLCALL;

/**
 * A dump without its threads (they travel in the arrays), keys in their original order; in a
 * summary, `states` instead: each state's code and count, in the order the states first appear.
 */
type WireDump = ProcessDump & { threadCount: number; states?: number[] };

/** What `rollcall parse` prints of a dump, without its threads: their number and states. */
export type DumpSummary = Omit<ProcessDump, 'threads'> & {
  threadCount: number;
  /** Each state and its count, in the order the states first appear. */
  states: [NormalizedState, number][];
};

/** A parse result for the wire; `nums`, `ints` and `newStacks` are views of one ArrayBuffer (transfer it once). */
export interface WireResult {
  /** Table generation these ids refer to; a new one starts with empty tables. */
  gen: number;
  newStrings: string[];
  newFrames: string[];
  /** Each new stack: its frame count, then that many frame ids. */
  newStacks: Int32Array;
  ints: Int32Array;
  nums: Float64Array;
  /** rollcall's per-thread facts (rare), in thread order. */
  extras: RollcallThreadInfo[];
  dumps: WireDump[];
  rest: Omit<ParseResult, 'dumps'>;
}

/** A typed array that grows as values are pushed; `take` copies out what was pushed. */
class Growing<T extends Int32Array | Float64Array> {
  n = 0;
  constructor(
    private a: T,
    private readonly make: (size: number) => T,
  ) {}
  push(v: number): void {
    if (this.n === this.a.length) {
      const b = this.make(this.a.length * 2);
      b.set(this.a);
      this.a = b;
    }
    this.a[this.n++] = v;
  }
  /** Overwrites the value pushed at index i. */
  setAt(i: number, v: number): void {
    this.a[i] = v;
  }
  /** What was pushed, as a view of `buf` at `byteOffset` (buf has room for it). */
  copyInto(buf: ArrayBuffer, byteOffset: number, view: (buf: ArrayBuffer, byteOffset: number, length: number) => T): T {
    const out = view(buf, byteOffset, this.n);
    out.set(this.a.subarray(0, this.n));
    return out;
  }
}

const ints = (size: number): Growing<Int32Array> => new Growing(new Int32Array(size), (n) => new Int32Array(n));

const newBuffer = (bytes: number): ArrayBuffer => new ArrayBuffer(bytes);

/** The worker's side: one per worker, for every result it sends. */
export class WireEncoder {
  private gen = 0;
  private readonly strings = new Map<string, number>();
  private readonly frames = new Map<Frame, number>();
  private readonly stacks = new Map<string, number>();
  /** Shared lock lists' encodings (ids in this generation's string table), by list. */
  private readonly lockLists = new Map<readonly LockLine[], number[]>();
  private newStrings: string[] = [];
  private newFrames: string[] = [];
  private readonly newStacks = ints(1024);
  private readonly ints = ints(1 << 16);
  private readonly nums = new Growing(new Float64Array(1 << 14), (n) => new Float64Array(n));

  /**
   * The result for the wire; with `summary`, each dump's thread count and states instead of its
   * threads. `buffer` gives the one buffer its arrays go into (of at least the bytes asked for).
   */
  encode(r: ParseResult, summary = false, buffer: (bytes: number) => ArrayBuffer = newBuffer): WireResult {
    if (this.strings.size + this.frames.size + this.stacks.size > MAX_WIRE_TABLE_ENTRIES) {
      this.gen++;
      this.strings.clear();
      this.frames.clear();
      this.stacks.clear();
      this.lockLists.clear();
    }
    this.ints.n = 0;
    this.nums.n = 0;
    this.newStacks.n = 0;
    const extras: RollcallThreadInfo[] = [];
    const dumps: WireDump[] = [];
    for (const d of r.dumps) {
      const w = {} as Record<string, unknown>;
      for (const k of Object.keys(d)) w[k] = k === 'threads' ? [] : d[k as keyof ProcessDump];
      w['threadCount'] = d.threads.length;
      dumps.push(w as unknown as WireDump);
      if (summary) w['states'] = stateCounts(d.threads);
      else for (const t of d.threads) this.thread(t as ThreadRecord, extras);
    }
    const { dumps: _dumps, ...rest } = r;
    // One buffer for the three arrays (numbers first, for their alignment): an ArrayBuffer costs
    // tens of microseconds to make and transfer, more than copying a result into it.
    const nums = this.nums.n * 8;
    const ints = this.ints.n * 4;
    const buf = buffer(nums + ints + this.newStacks.n * 4);
    const out: WireResult = {
      gen: this.gen,
      newStrings: this.newStrings,
      newFrames: this.newFrames,
      nums: this.nums.copyInto(buf, 0, (b, o, n) => new Float64Array(b, o, n)),
      ints: this.ints.copyInto(buf, nums, (b, o, n) => new Int32Array(b, o, n)),
      newStacks: this.newStacks.copyInto(buf, nums + ints, (b, o, n) => new Int32Array(b, o, n)),
      extras,
      dumps,
      rest,
    };
    this.newStrings = [];
    this.newFrames = [];
    return out;
  }

  private str(s: string): number {
    let id = this.strings.get(s);
    if (id === undefined) {
      id = this.strings.size;
      // The parse's strings may be slices of its input (UnsharedStrings): the table keeps a copy.
      const own = detach(s);
      this.strings.set(own, id);
      this.newStrings.push(own);
    }
    return id;
  }

  private frame(f: Frame): number {
    let id = this.frames.get(f);
    if (id === undefined) {
      id = this.frames.size;
      this.frames.set(f, id);
      this.newFrames.push(f.text);
    }
    return id;
  }

  private stack(frames: readonly Frame[], key: string): number {
    if (frames.length === 0) return -1;
    let id = this.stacks.get(key);
    if (id === undefined) {
      id = this.stacks.size;
      this.stacks.set(key, id);
      this.newStacks.push(frames.length);
      for (const f of frames) this.newStacks.push(this.frame(f));
    }
    return id;
  }

  private locks(locks: readonly LockLine[]): void {
    const ints = this.ints;
    ints.push(locks.length);
    if (locks.length === 0) return;
    // A frozen list is one the parser shares between the threads of one stack (a replayed
    // stack's): its encoding is kept, by identity, so its strings are looked up once.
    let encoded = this.lockLists.get(locks);
    if (encoded === undefined) {
      encoded = [];
      // Index loops: the lists are often shared frozen arrays, which for-of walks with an
      // iterator object per loop (tens of megabytes over a corpus).
      for (let i = 0; i < locks.length; i++) {
        const l = locks[i]!;
        encoded.push(l.frame, LOCK_CODE.get(l.kind)!, this.str(l.address), this.str(l.className));
      }
      if (Object.isFrozen(locks) && this.lockLists.size < MAX_SHARED_LOCK_LISTS) this.lockLists.set(locks, encoded);
    }
    for (let i = 0; i < encoded.length; i++) ints.push(encoded[i]!);
  }

  /** The optional fields present on the thread being encoded (mask bits). */
  private mask = 0;

  private optNum(bit: number, v: number | string | undefined): void {
    if (typeof v !== 'number') return;
    this.mask |= bit;
    this.nums.push(v);
  }

  private optStr(bit: number, v: number | string | undefined): void {
    if (typeof v !== 'string') return;
    this.mask |= bit;
    this.ints.push(this.str(v));
  }

  private thread(t: ThreadRecord, extras: RollcallThreadInfo[]): void {
    const ints = this.ints;
    let flags = STATE_CODE.get(t.state) ?? 6;
    if (t.daemon) flags |= F_DAEMON;
    if (t.virtual !== undefined) flags |= F_VIRTUAL_SET | (t.virtual ? F_VIRTUAL : 0);
    if (t.truncated !== undefined) flags |= F_TRUNCATED_SET | (t.truncated ? F_TRUNCATED : 0);
    const m = t.mountedVirtualThread;
    if (m !== undefined) flags |= F_MOUNTED;
    if (t.rollcall !== undefined) {
      flags |= F_ROLLCALL;
      extras.push(t.rollcall);
    }
    ints.push(this.str(t.name));
    ints.push(t.line);
    ints.push(flags);
    const maskAt = ints.n;
    ints.push(0);
    ints.push(this.stack(t.frames, t.stackKey));
    ints.push(this.str(t.stateDetail));
    this.mask = 0;
    this.optNum(1 << 0, t.javaId);
    this.optNum(1 << 1, t.nid);
    this.optNum(1 << 2, t.osThreadId);
    this.optNum(1 << 3, t.priority);
    this.optNum(1 << 4, t.osPriority);
    this.optNum(1 << 5, t.cpuMs);
    this.optNum(1 << 6, t.elapsedMs);
    this.optNum(1 << 7, t.allocatedBytes);
    this.optNum(1 << 8, t.definedClasses);
    this.optNum(1 << 9, t.blockedCount);
    this.optNum(1 << 10, t.blockedTimeMs);
    this.optNum(1 << 11, t.waitedCount);
    this.optNum(1 << 12, t.waitedTimeMs);
    this.optNum(1 << 13, t.carryingVirtualThread);
    // A JVM thread pointer in its usual form goes as its number: no string table lookup.
    const tid = t.tid === undefined ? -1 : tidNumber(t.tid);
    if (tid >= 0) {
      this.mask |= TID_NUMBER;
      this.nums.push(tid);
    } else this.optStr(1 << (STR_BIT0 + 0), t.tid);
    this.optStr(1 << (STR_BIT0 + 1), t.nid);
    this.optStr(1 << (STR_BIT0 + 2), t.container);
    this.optStr(1 << (STR_BIT0 + 3), t.waitingOnText);
    this.optStr(1 << (STR_BIT0 + 4), t.blockedByText);
    ints.setAt(maskAt, this.mask);
    this.locks(t.locks);
    ints.push(t.ownableSynchronizers.length);
    const own = t.ownableSynchronizers;
    for (let i = 0; i < own.length; i++) {
      ints.push(this.str(own[i]!.address));
      ints.push(this.str(own[i]!.className));
    }
    if (m !== undefined) {
      this.nums.push(m.javaId);
      ints.push(this.stack(m.frames, m.stackKey));
      this.locks(m.locks);
    }
  }
}

interface Stack {
  frames: Frame[];
  key: string;
}

interface Tables {
  strings: string[];
  frames: Frame[];
  stacks: Stack[];
  /** One-lock lists, shared by every thread holding or waiting on the same thing at the same frame. */
  oneLock: Map<number, Map<number, LockLine[]>>;
  /** Thread pointers sent as numbers (TID_NUMBER), as text: the same string for every sample. */
  tids: Map<number, string>;
}

/** Lists no thread of a decoded dump adds to: shared when empty. */
const NO_LOCKS: LockLine[] = Object.freeze([]) as unknown as LockLine[];
const NO_SYNCHRONIZERS: OwnableSynchronizer[] = Object.freeze([]) as unknown as OwnableSynchronizer[];

/** A received result whose table entries are in place; decode it when its dumps are needed. */
export interface ReceivedResult {
  tables: Tables;
  wire: WireResult;
}

/** The main thread's side: one per worker, fed that worker's results in the order they were sent. */
export class WireDecoder {
  private gen = -1;
  private tables: Tables = { strings: [], frames: [], stacks: [], oneLock: new Map(), tids: new Map() };

  constructor(private readonly frameTable: FrameTable) {}

  receive(w: WireResult): ReceivedResult {
    if (w.gen !== this.gen) {
      this.gen = w.gen;
      this.tables = { strings: [], frames: [], stacks: [], oneLock: new Map(), tids: new Map() };
    }
    const { strings, frames, stacks } = this.tables;
    for (const s of w.newStrings) strings.push(s);
    for (const f of w.newFrames) frames.push(this.frameTable.intern(f));
    const ns = w.newStacks;
    for (let i = 0; i < ns.length;) {
      const n = ns[i++]!;
      const list = new Array<Frame>(n);
      for (let j = 0; j < n; j++) list[j] = frames[ns[i++]!]!;
      stacks.push({ frames: list, key: stackKeyOf(list) });
    }
    return { tables: this.tables, wire: w };
  }
}

/** Each state's code and count, in the order the states first appear. */
function stateCounts(threads: readonly ThreadDump[]): number[] {
  const counts = new Map<number, number>();
  for (const t of threads) {
    const code = STATE_CODE.get(t.state) ?? 6;
    counts.set(code, (counts.get(code) ?? 0) + 1);
  }
  return [...counts].flat();
}

/** Input line numbers moved by the lines before this part; shared entries (dump and result lists) moved once. */
function lineMover(lineOffset: number): <T extends UnparsedLine | ParseErrorInfo>(e: T) => T {
  const moved = new Map<object, UnparsedLine | ParseErrorInfo>();
  return <T extends UnparsedLine | ParseErrorInfo>(e: T): T => {
    if (lineOffset === 0) return e;
    let m = moved.get(e) as T | undefined;
    if (m === undefined) moved.set(e, (m = { ...e, line: e.line + lineOffset }));
    return m;
  };
}

/** A dump's own fields from the wire, `threads` given, lines moved; keys in their original order. */
function dumpHeader<T>(
  w: WireDump,
  lineOffset: number,
  move: ReturnType<typeof lineMover>,
  replace: (key: string) => [string, unknown][] | undefined,
): T {
  const d = {} as Record<string, unknown>;
  for (const k of Object.keys(w)) {
    const r = replace(k);
    if (r === undefined) d[k] = w[k as keyof WireDump];
    else for (const [rk, rv] of r) d[rk] = rv;
  }
  const dump = d as unknown as ProcessDump;
  if (lineOffset !== 0) {
    dump.startLine += lineOffset;
    dump.endLine += lineOffset;
    for (const j of dump.deadlocks) j.line += lineOffset;
    dump.errors = dump.errors.map(move);
    if (dump.unparsed !== undefined) dump.unparsed = dump.unparsed.map(move);
  }
  return d as T;
}

function restOf(wire: WireResult, move: ReturnType<typeof lineMover>): Omit<ParseResult, 'dumps'> {
  const rest = wire.rest;
  return {
    format: rest.format,
    totalLines: rest.totalLines,
    parsedLines: rest.parsedLines,
    unparsedLines: rest.unparsedLines,
    unparsed: rest.unparsed.map(move),
    errors: rest.errors.map(move),
    bytes: rest.bytes,
  };
}

/** The dump summaries a received summary carries, lines moved by `lineOffset`. */
export function decodeSummaries(
  received: ReceivedResult,
  lineOffset = 0,
): Omit<ParseResult, 'dumps'> & { dumps: DumpSummary[] } {
  const move = lineMover(lineOffset);
  const dumps = received.wire.dumps.map((w) => {
    const pairs = w.states ?? [];
    const states: [NormalizedState, number][] = [];
    for (let i = 0; i < pairs.length; i += 2) states.push([STATES[pairs[i]!]!, pairs[i + 1]!]);
    return dumpHeader<DumpSummary>(w, lineOffset, move, (k) =>
      k === 'threads'
        ? []
        : k === 'threadCount'
          ? [['threadCount', w.threadCount]]
          : k === 'states'
            ? [['states', states]]
            : undefined,
    );
  });
  const { format, ...rest } = restOf(received.wire, move);
  return { format, dumps, ...rest };
}

/**
 * A number read from a Float64Array, as a small integer when it is one: V8 keeps such a double
 * in an object as a heap box of its own, 16 bytes, even when it is integral (ids, priorities).
 * -0 stays a double.
 */
function smallNumber(v: number): number {
  return v === (v | 0) && (v !== 0 || 1 / v > 0) ? v | 0 : v;
}

/**
 * One result's arrays, read in the encoder's order. Methods on one class, not closures over the
 * read positions: those positions would live in a context object, and the closures (called a
 * dozen times per thread) were not inlined.
 */
class WireReader {
  ip = 0;
  np = 0;
  /** The optional fields of the thread being read (mask bits). */
  mask = 0;

  constructor(
    private readonly ints: Int32Array,
    private readonly nums: Float64Array,
    private readonly tables: Tables,
  ) {}

  int(): number {
    return this.ints[this.ip++]!;
  }

  str(): string {
    return this.tables.strings[this.ints[this.ip++]!]!;
  }

  optNum(bit: number): number | undefined {
    return (this.mask & bit) !== 0 ? smallNumber(this.nums[this.np++]!) : undefined;
  }

  optStr(i: number): string | undefined {
    return (this.mask & (1 << (STR_BIT0 + i))) !== 0 ? this.str() : undefined;
  }

  num(): number {
    return this.nums[this.np++]!;
  }

  tid(): string {
    const n = this.nums[this.np++]!;
    const tids = this.tables.tids;
    let text = tids.get(n);
    if (text === undefined) {
      text = tidText(n);
      if (tids.size < MAX_TID_TEXTS) tids.set(n, text);
    }
    return text;
  }

  lockList(): LockLine[] {
    const n = this.int();
    if (n === 0) return NO_LOCKS;
    const strings = this.tables.strings;
    if (n === 1) {
      const frame = this.int();
      const kind = this.int();
      const address = this.int();
      const className = this.int();
      const oneLock = this.tables.oneLock;
      let byClass = oneLock.get(address);
      if (byClass === undefined) oneLock.set(address, (byClass = new Map()));
      // Below 2^53: class ids < 2^31, frame < 2^12 (MAX_FRAMES_PER_THREAD), kind < 2^3.
      const key = className * 32768 + frame * 8 + kind;
      let list = byClass.get(key);
      if (list === undefined) {
        const line = { frame, kind: LOCK_KINDS[kind]!, address: strings[address]!, className: strings[className]! };
        byClass.set(key, (list = Object.freeze([line]) as unknown as LockLine[]));
      }
      return list;
    }
    const out = new Array<LockLine>(n);
    for (let i = 0; i < n; i++) {
      const frame = this.int();
      const kind = LOCK_KINDS[this.int()]!;
      out[i] = { frame, kind, address: this.str(), className: this.str() };
    }
    return out;
  }
}

/**
 * The ParseResult a received message carries, with every input line number moved by
 * `lineOffset` (the lines before this part of the input).
 */
export function decodeResult(received: ReceivedResult, lineOffset = 0): ParseResult {
  const { tables, wire } = received;
  const { stacks } = tables;
  const rd = new WireReader(wire.ints, wire.nums, tables);
  let xp = 0;
  const move = lineMover(lineOffset);
  const dumps: ProcessDump[] = [];
  for (const w of wire.dumps) {
    const threads: ThreadDump[] = [];
    const dump = dumpHeader<ProcessDump>(w, lineOffset, move, (k) =>
      k === 'threads' ? [['threads', threads]] : k === 'threadCount' || k === 'states' ? [] : undefined,
    );
    for (let n = 0; n < w.threadCount; n++) {
      const name = rd.str();
      const line = rd.int() + lineOffset;
      const flags = rd.int();
      rd.mask = rd.int();
      const sid = rd.int();
      const stack = sid >= 0 ? stacks[sid]! : undefined;
      const stateDetail = rd.str();
      // Optional fields in their order (see STR_BIT0; checked by the counts below).
      const javaId = rd.optNum(1);
      const nidNumber = rd.optNum(2);
      const osThreadId = rd.optNum(4);
      const priority = rd.optNum(8);
      const osPriority = rd.optNum(16);
      const cpuMs = rd.optNum(32);
      const elapsedMs = rd.optNum(64);
      const allocatedBytes = rd.optNum(128);
      const definedClasses = rd.optNum(256);
      const blockedCount = rd.optNum(512);
      const blockedTimeMs = rd.optNum(1024);
      const waitedCount = rd.optNum(2048);
      const waitedTimeMs = rd.optNum(4096);
      const carryingVirtualThread = rd.optNum(8192);
      const tid = (rd.mask & TID_NUMBER) !== 0 ? rd.tid() : rd.optStr(0);
      const nidText = rd.optStr(1);
      const container = rd.optStr(2);
      const waitingOnText = rd.optStr(3);
      const blockedByText = rd.optStr(4);
      const locks = rd.lockList();
      const own = rd.int();
      let ownableSynchronizers = NO_SYNCHRONIZERS;
      if (own > 0) {
        ownableSynchronizers = new Array<OwnableSynchronizer>(own);
        for (let i = 0; i < own; i++) ownableSynchronizers[i] = { address: rd.str(), className: rd.str() };
      }
      let mountedVirtualThread: MountedVirtualThread | undefined;
      if ((flags & F_MOUNTED) !== 0) {
        const mountedId = rd.num();
        const msid = rd.int();
        const s = msid >= 0 ? stacks[msid]! : undefined;
        mountedVirtualThread = {
          javaId: mountedId,
          frames: s?.frames ?? [],
          stackKey: s?.key ?? '',
          locks: rd.lockList(),
        };
      }
      // An object literal with ThreadRecord's fields in ThreadRecord's order: the same JSON, and
      // one allocation site per shape, which V8 can allocate straight into the old generation when
      // (as here, held for a whole round) such threads outlive young collections. Most threads
      // have none of the rarer fields (JMX counters, virtual threads, rollcall's own): those get
      // the shape without them, 112 bytes smaller (JSON leaves undefined fields out either way).
      const frames = stack?.frames ?? [];
      const stackKey = stack?.key ?? '';
      const nid = nidNumber ?? nidText;
      const state = STATES[flags & F_STATE]!;
      const daemon = (flags & F_DAEMON) !== 0;
      if ((rd.mask & RARE_FIELDS) === 0 && (flags & RARE_FLAGS) === 0) {
        threads.push({
          line,
          name,
          javaId,
          tid,
          nid,
          osThreadId,
          daemon,
          priority,
          osPriority,
          state,
          stateDetail,
          cpuMs,
          elapsedMs,
          frames,
          stackKey,
          locks,
          ownableSynchronizers,
        });
        continue;
      }
      threads.push({
        line,
        name,
        javaId,
        tid,
        nid,
        osThreadId,
        daemon,
        priority,
        osPriority,
        state,
        stateDetail,
        cpuMs,
        elapsedMs,
        allocatedBytes,
        definedClasses,
        blockedCount,
        blockedTimeMs,
        waitedCount,
        waitedTimeMs,
        frames,
        stackKey,
        locks,
        ownableSynchronizers,
        carryingVirtualThread,
        mountedVirtualThread,
        virtual: (flags & F_VIRTUAL_SET) !== 0 ? (flags & F_VIRTUAL) !== 0 : undefined,
        container,
        waitingOnText,
        blockedByText,
        truncated: (flags & F_TRUNCATED_SET) !== 0 ? (flags & F_TRUNCATED) !== 0 : undefined,
        rollcall: (flags & F_ROLLCALL) !== 0 ? wire.extras[xp++]! : undefined,
      });
    }
    dumps.push(dump);
  }
  if (rd.ip !== wire.ints.length || rd.np !== wire.nums.length || xp !== wire.extras.length) {
    throw new Error(
      `wire result decoded ${rd.ip}/${wire.ints.length} ints, ${rd.np}/${wire.nums.length} numbers: encoder and decoder disagree`,
    );
  }
  const { format, ...rest } = restOf(wire, move);
  return { format, dumps, ...rest };
}
