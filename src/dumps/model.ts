// The dump model every parser produces and the analyzer consumes. One shape for jstack/jcmd text,
// JMX ThreadInfo text, jcmd JSON, Hadoop /stacks and rollcall's own dumps, so diagnosis never
// looks at a format.
//
// Memory: a bundle of 600 dumps × 300 threads × 30 frames is millions of frames, almost all repeats.
// Frames are therefore interned in a FrameTable (one shared Frame object per distinct frame text),
// a thread's stack is an array of references to them, and `stackKey` is a short string built from
// frame ids, so "same stack" is one string comparison. Every string kept from the input is a copy,
// never a slice, so parsed dumps do not pin the whole file text in memory.
import type { Serving, WaitDescriptor } from '../threads/types.js';

export type DumpFormat =
  /** jstack or `jcmd PID Thread.print`, JDK 6 to 25. */
  | 'jstack'
  /** java.lang.management.ThreadInfo.toString(): `"name" Id=N in STATE` or `"name" id=N in STATE`. */
  | 'jmx'
  /** `jcmd PID Thread.dump_to_file -format=json` (JDK 21+). */
  | 'jcmd-json'
  /** Hadoop/HBase `/stacks` servlet (ReflectionUtils.printThreadInfo). */
  | 'hadoop-stacks'
  /** rollcall's `GET /stacks` text (formatDumpText). */
  | 'rollcall-text'
  /** rollcall's `GET /stacks?format=json` (NodeDump). */
  | 'rollcall-json';

export type NormalizedState = 'RUNNABLE' | 'BLOCKED' | 'WAITING' | 'TIMED_WAITING' | 'NEW' | 'TERMINATED' | 'UNKNOWN';
export const NORMALIZED_STATES: readonly NormalizedState[] = [
  'RUNNABLE',
  'BLOCKED',
  'WAITING',
  'TIMED_WAITING',
  'NEW',
  'TERMINATED',
  'UNKNOWN',
];

/** One stack frame; shared between every thread (and dump) that has the same frame text. */
export interface Frame {
  /** Stable within its FrameTable; stackKey is built from these. */
  readonly id: number;
  /** The frame as printed after `at ` (jstack form), e.g. `java.base@21/java.lang.Object.wait0(Native Method)`. */
  readonly text: string;
  /** `java.base@21` or `app//` style prefix before the class name, without the trailing '/'. */
  readonly module?: string;
  readonly className: string;
  readonly method: string;
  readonly file?: string;
  readonly line?: number;
  readonly native?: boolean;
}

export type LockKind =
  | 'locked'
  | 'waiting-to-lock'
  | 'waiting-on'
  | 'parking'
  | 'eliminated'
  | 'waiting-to-re-lock'
  /** JMX form `- blocked on X`, same meaning as waiting-to-lock. */
  | 'blocked-on';
export const LOCK_KINDS: readonly LockKind[] = [
  'locked',
  'waiting-to-lock',
  'waiting-on',
  'parking',
  'eliminated',
  'waiting-to-re-lock',
  'blocked-on',
];

export interface LockLine {
  /** Index into frames of the frame this line follows (0 = innermost); -1 if before any frame. */
  frame: number;
  kind: LockKind;
  /** `0x000000049c5f7990`, or a JMX identity hash such as `1a2b3c`; '' when the JVM printed none. */
  address: string;
  /** `java.util.concurrent.locks.ReentrantLock$NonfairSync`; '' when not printed. */
  className: string;
}

export interface OwnableSynchronizer {
  address: string;
  className: string;
}

/** rollcall's own facts about a logical thread, read from `- rollcall:` lines or NodeDump JSON. */
export interface RollcallThreadInfo {
  pool?: string;
  progress?: number;
  completed?: number;
  /** An idle pool thread waiting for work (rollcall state IDLE; the dump prints WAITING). */
  idle?: boolean;
  /**
   * What the thread waits on. Times (deadlineMs, untilMs, sinceMs) are on the dump's monotonic
   * clock (ProcessDump.monotonicMs); from text they are rebuilt from the printed relative times.
   */
  wait?: WaitDescriptor & { sinceMs?: number };
  serving?: Serving;
}

export interface MountedVirtualThread {
  javaId: number;
  frames: Frame[];
  stackKey: string;
  locks: LockLine[];
}

export interface ThreadDump {
  name: string;
  /** Java thread id, `#N` in jstack, `id=N` in JMX, `Thread N` in /stacks, `tid` in jcmd JSON. */
  javaId?: number;
  /** JVM thread pointer as printed (`0x00007f...`). */
  tid?: string;
  /** Native id: a number when it parses (hex `0x4745` or decimal `18179`), else the raw text. */
  nid?: number | string;
  /** `[osid]` after `#N` in JDK 19+ (the same value as nid there). */
  osThreadId?: number;
  daemon: boolean;
  priority?: number;
  osPriority?: number;
  state: NormalizedState;
  /** The raw state text: `WAITING (parking)`, `waiting on condition`, `in Object.wait()`… */
  stateDetail: string;
  cpuMs?: number;
  elapsedMs?: number;
  allocatedBytes?: number;
  definedClasses?: number;
  /** Hadoop /stacks and JMX counters. */
  blockedCount?: number;
  blockedTimeMs?: number;
  waitedCount?: number;
  waitedTimeMs?: number;
  /** Innermost first. Shared Frame objects: compare with === or by id. */
  frames: Frame[];
  /**
   * Equal for two threads iff their frames are equal (same FrameTable). Frames only: lock lines and
   * state are not part of it, so compare those separately when they matter.
   */
  stackKey: string;
  locks: LockLine[];
  ownableSynchronizers: OwnableSynchronizer[];
  /** `Carrying virtual thread #N` (JDK 21+): the carrier's state line is replaced by this. */
  carryingVirtualThread?: number;
  /**
   * JDK 25 prints the mounted virtual thread's own stack after the carrier's, under
   * `Mounted virtual thread #N`; its frames and lock lines are kept here, not in the carrier's.
   */
  mountedVirtualThread?: MountedVirtualThread;
  virtual?: boolean;
  /** Thread container in jcmd JSON dumps (`<root>`, `java.util.concurrent.ThreadPoolExecutor@…`). */
  container?: string;
  /** Hadoop /stacks `Waiting on X` / `Blocked by N (name)`; JMX `on X owned by "name" Id=N`. */
  waitingOnText?: string;
  blockedByText?: string;
  /** The JMX/Hadoop forms cap stacks (`...` marker, or 20 frames for /stacks): frames may be missing. */
  truncated?: boolean;
  /** 1-based line of the header in the input. */
  line: number;
  rollcall?: RollcallThreadInfo;
}

export interface DeadlockEntry {
  /** Thread name as the JVM printed it (names are not unique: match carefully). */
  thread: string;
  /** The text after `waiting to lock ` or `waiting for ownable synchronizer `. */
  waitingToLock: string;
  /** `monitor` for synchronized, `ownable` for java.util.concurrent locks. */
  lockKind: 'monitor' | 'ownable' | 'other';
  /** Address of the object or synchronizer, when one is printed. */
  lockAddress?: string;
  lockClassName?: string;
  heldBy: string;
}

/** One `Found one Java-level deadlock:` section, as the JVM reported it. */
export interface JvmDeadlock {
  line: number;
  entries: DeadlockEntry[];
}

export interface ParseErrorInfo {
  /** 1-based input line where the malformed block starts. */
  line: number;
  message: string;
}

export interface UnparsedLine {
  line: number;
  text: string;
}

/** rollcall's `rollcall pools:` section, or NodeDump.pools. */
export interface RollcallPoolInfo {
  name: string;
  size: number;
  busy: number;
  idle: number;
  queueLengths: number[];
  maxQueueLength: number;
  rejected: number;
  completed: number;
  queuedTotal: number;
  queued: { callId: number; method: string; callerNode: string; callerThreadId: number; queue: number }[];
}

export interface ProcessDump {
  /** The node (process) this dump belongs to: from options, the rollcall header, or ''. */
  node: string;
  format: DumpFormat;
  pid?: number;
  /** `Java HotSpot(TM) 64-Bit Server VM (25.91-b14 mixed mode)`, `JDK version: …`, `rollcall 0.1.0`. */
  jvmVersion?: string;
  /** Epoch ms from the dump's own timestamp line (local time read as UTC when no zone is given). */
  capturedAtMs?: number;
  /** rollcall dumps: the node's role and monotonic clock at capture. */
  role?: string;
  monotonicMs?: number;
  threads: ThreadDump[];
  deadlocks: JvmDeadlock[];
  pools?: RollcallPoolInfo[];
  /** `JNI global refs: N` (or `JNI global references: N`). */
  jniGlobalRefs?: number;
  /** 1-based first and last input line of this dump. */
  startLine: number;
  endLine: number;
  /** Lines inside this dump's range that no rule understood (including lines of skipped blocks). */
  unparsedLines: number;
  /** The unparsed lines themselves, when asked for (ParseOptions.keepUnparsed), bounded. */
  unparsed?: UnparsedLine[];
  /** Malformed blocks (skipped) with their line numbers. */
  errors: ParseErrorInfo[];
}

/** The result of parsing one input (a file, an HTTP body): zero or more dumps plus accounting. */
export interface ParseResult {
  /** The detected format, or 'unknown' when nothing in the input looked like a dump. */
  format: DumpFormat | 'unknown';
  dumps: ProcessDump[];
  /** Lines in the input (a final line without '\n' counts; a trailing '\n' does not start one). */
  totalLines: number;
  /** Invariant: parsedLines + unparsedLines === totalLines. */
  parsedLines: number;
  unparsedLines: number;
  /** Up to ParseOptions.maxUnparsedListed unparsed lines (only with keepUnparsed). */
  unparsed: UnparsedLine[];
  errors: ParseErrorInfo[];
  /** Bytes of input read. */
  bytes: number;
}

/** Limits the parser enforces (TIGER_STYLE): beyond them input is counted, not stored. */
export const MAX_FRAMES_PER_THREAD = 4096;
export const MAX_THREADS_PER_DUMP = 200_000;
export const MAX_LOCKS_PER_THREAD = 4096;
export const MAX_ERRORS_LISTED = 1000;
export const DEFAULT_MAX_UNPARSED_LISTED = 10_000;
/** Longest line the parser looks into; longer lines are counted unparsed (a binary blob, not a dump). */
export const MAX_LINE_CHARS = 64 * 1024;
