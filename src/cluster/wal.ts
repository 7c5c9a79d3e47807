// A write-ahead log of numbered segment files (`wal.000000000007`) in one directory, written
// through the substrate's Disk so it runs on real files and on the simulated disk alike.
//
// Segment layout: a header record, entry records, and — once closed — a trailer record; every
// record is length+CRC framed (records.ts). Invariants:
// - A roll seals the active segment (trailer, fsync, close) after switching appends to the next
//   one, so no entry is ever written to a closed segment and none is lost across a roll.
// - Only the active segment and the one a roll is sealing can lack a trailer or end torn, so after
//   a crash only the last two non-empty files may have a torn tail (records.ts says what is torn).
//   Open first checks every segment without changing anything: corruption anywhere, or a torn tail
//   in an older segment, refuses to open, naming the file and byte offset (`rollcall verify
//   --repair` quarantines it). Only then are torn tails cut (never served) and unsealed segments
//   sealed; appends go to a fresh segment. A segment's header goes out with its first write and
//   becomes durable with its first sync; a crash before that leaves an empty or torn file that
//   recovery handles.
// - Empty files numbered above every non-empty one are preallocated future segments. Creating a
//   file costs far more than opening one on common filesystems (the inode allocation serializes
//   with journal commits, ~0.1-1 ms each on ext4 under load), so a WAL may keep `preallocate`
//   future segments, made at open and topped up only after the WAL has been idle for a while:
//   a roll then never creates a file while other nodes are fsyncing.
import type { AppendFile, Clock, Disk, TimerHandle } from '../substrate/types.js';
import { joinPath } from '../substrate/types.js';
import type { LogicalThread } from '../threads/index.js';
import { assert } from '../util/assert.js';
import { io } from './io.js';
import {
  CorruptDataError,
  encodeRecord,
  fromUtf8,
  scanRecords,
  utf8,
  type Damage,
  type RecordFormat,
} from './records.js';

const ENTRY = 1;
const HEADER = 2;
const TRAILER = 3;
const SEGMENT_DIGITS = 12;
const SEGMENT_RE = /^wal\.(\d{12})$/;
/** Non-empty segments at the end of the directory that may be unsealed after a crash. */
const UNSEALED_CANDIDATES = 2;
export const MAX_PREALLOCATED_SEGMENTS = 1024;

export const WAL_FRAMES = {
  rollWriter: 'rollcall.regionserver.wal.FSHLog.rollWriter',
  createWriter: 'rollcall.regionserver.wal.FSHLog.createWriterInstance',
  closeWriter: 'rollcall.regionserver.wal.ProtobufLogWriter.close',
  sync: 'rollcall.regionserver.wal.FSHLog.sync',
} as const;

export interface WalOptions {
  disk: Disk;
  dir: string;
  clock: Clock;
  log?: (message: string) => void;
  /** Future segment files kept preallocated (0: create each segment when needed). */
  preallocate?: number;
  /** Quiet time after a roll before preallocated segments are topped up. */
  refillDelayMs?: number;
}

export interface RollResult {
  /** The segment this roll closed: the highest closed segment number. */
  highestClosed: number;
  /** Wall-clock time of the roll (for the backup table). */
  rolledAtMs: number;
  durationMs: number;
}

export interface RecoveryReport {
  segments: number;
  tornBytesCut: number;
  sealed: number;
}

export interface SegmentContents {
  seq: number;
  name: string;
  entries: Uint8Array[];
  sealed: boolean;
  /** True for a preallocated segment that was never used (an empty file). */
  empty: boolean;
  tornBytes: number;
  /** The first damage (entries are those before it). */
  damage?: Damage;
}

/** One segment as open sees it, before changing anything. */
export interface SegmentCheck {
  seq: number;
  name: string;
  path: string;
  bytes: number;
  /** Intact records before the first damage. */
  records: number;
  sealed: boolean;
  /** One of the last two used segments: the only ones a crash can leave torn. */
  tailAllowed: boolean;
  damage?: Damage;
}

/** What open refuses: corruption, or a torn tail where no crash can leave one. */
export function refusedDamage(check: SegmentCheck): Damage | undefined {
  const d = check.damage;
  if (d === undefined || (d.kind === 'torn' && check.tailAllowed)) return undefined;
  if (d.kind === 'corrupt') return d;
  return { ...d, kind: 'corrupt', reason: `${d.reason}, in a segment older than the last two (it was sealed)` };
}

/** A WAL record's payload starts with its type. */
export const WAL_RECORD_FORMAT: RecordFormat = {
  firstByte: (b) => b === ENTRY || b === HEADER || b === TRAILER,
  invalid: (payload) =>
    payload[0] === ENTRY || payload[0] === HEADER || payload[0] === TRAILER
      ? undefined
      : `unknown record type ${payload[0]}`,
};

interface Writer {
  seq: number;
  file: AppendFile;
  /** Every file operation chains here, so appends, syncs and the seal never overlap. */
  tail: Promise<void>;
  entries: number;
  /** The header, until the first write carries it (one write instead of two). */
  header: Uint8Array | undefined;
}

export function segmentName(seq: number): string {
  return `wal.${String(seq).padStart(SEGMENT_DIGITS, '0')}`;
}

function typed(type: number, body: Uint8Array): Uint8Array {
  const payload = new Uint8Array(body.length + 1);
  payload[0] = type;
  payload.set(body, 1);
  return encodeRecord(payload);
}

export class Wal {
  private writer!: Writer;
  /** The next segment, opened ahead by prepareRoll (resolves undefined when that failed). */
  private prepared: { seq: number; writer: Promise<Writer | undefined> } | undefined;
  private rollChain: Promise<unknown> = Promise.resolve();
  /** File handles of sealed segments still being closed. */
  private closing: Promise<void> = Promise.resolve();
  private highestClosedValue: number;
  private appendedValue = 0;
  private closed = false;
  /** Highest segment number that exists as a file (used or preallocated). */
  private highestFile: number;
  private refillTimer: TimerHandle | undefined;
  private refilling: Promise<void> | undefined;
  private readonly log: (message: string) => void;

  private constructor(
    private readonly options: WalOptions,
    highestClosed: number,
    highestFile: number,
    readonly recovery: RecoveryReport,
  ) {
    assert(
      (options.preallocate ?? 0) >= 0 && (options.preallocate ?? 0) <= MAX_PREALLOCATED_SEGMENTS,
      `preallocate must be 0..${MAX_PREALLOCATED_SEGMENTS}`,
    );
    this.highestClosedValue = highestClosed;
    this.highestFile = highestFile;
    this.log = options.log ?? (() => {});
  }

  /**
   * Opens the WAL in `dir`, recovering segments left by a crash, and starts a new segment. Throws
   * CorruptDataError, having changed nothing, when a segment holds damage a crash cannot leave.
   */
  static async open(options: WalOptions, thread?: LogicalThread): Promise<Wal> {
    const { disk, dir } = options;
    await io(thread, `mkdir ${dir}`, disk.mkdirp(dir));
    const { seqs, used, segments } = await Wal.inspect(disk, dir, thread);
    for (const check of segments) {
      const refused = refusedDamage(check);
      if (refused) throw new CorruptDataError(check.path, refused);
    }
    const report: RecoveryReport = { segments: used.length, tornBytesCut: 0, sealed: 0 };
    for (const check of segments) {
      if (check.bytes > 0 && (check.damage !== undefined || !check.sealed)) {
        await recoverSegment(options, check, report, thread);
      }
    }
    const last = used.length > 0 ? used[used.length - 1]! : 0;
    const highestFile = seqs.length > 0 ? seqs[seqs.length - 1]! : 0;
    const wal = new Wal(options, last, highestFile, report);
    wal.writer = await io(thread, `open ${segmentName(last + 1)}`, wal.openSegment(last + 1));
    await io(thread, 'preallocate wal segments', wal.topUp(Infinity));
    return wal;
  }

  /**
   * Checks every segment in `dir` without changing anything: what open does first, and what
   * `rollcall verify` reports. Segments are read one at a time (memory: the largest segment).
   */
  static async inspect(
    disk: Disk,
    dir: string,
    thread?: LogicalThread,
  ): Promise<{ seqs: number[]; used: number[]; segments: SegmentCheck[] }> {
    const seqs = (await io(thread, `list ${dir}`, disk.list(dir)))
      .map((n) => SEGMENT_RE.exec(n))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => Number(m[1]))
      .sort((a, b) => a - b);
    // Empty files at the top are preallocated segments: skip them to find the last used one.
    let top = seqs.length;
    while (
      top > 0 &&
      (await io(thread, 'stat wal segment', disk.size(joinPath(dir, segmentName(seqs[top - 1]!))))) === 0
    ) {
      top--;
    }
    const used = seqs.slice(0, top);
    const segments: SegmentCheck[] = [];
    for (let i = 0; i < used.length; i++) {
      const seq = used[i]!;
      const name = segmentName(seq);
      const path = joinPath(dir, name);
      const data = await io(thread, `read ${name}`, disk.readFile(path));
      const scan = scanRecords(data, WAL_RECORD_FORMAT);
      const last = scan.records[scan.records.length - 1];
      segments.push({
        seq,
        name,
        path,
        bytes: data.length,
        records: scan.records.length,
        sealed: scan.damage === undefined && last !== undefined && last[0] === TRAILER,
        tailAllowed: i >= used.length - UNSEALED_CANDIDATES,
        ...(scan.damage ? { damage: scan.damage } : {}),
      });
    }
    return { seqs, used, segments };
  }

  /** Reads every segment in `dir` (for tests, tools and the backup-table check). */
  static async read(disk: Disk, dir: string): Promise<SegmentContents[]> {
    const out: SegmentContents[] = [];
    for (const name of await disk.list(dir)) {
      const m = SEGMENT_RE.exec(name);
      if (!m) continue;
      const data = await disk.readFile(joinPath(dir, name));
      const scan = scanRecords(data, WAL_RECORD_FORMAT);
      const last = scan.records[scan.records.length - 1];
      out.push({
        seq: Number(m[1]),
        name,
        entries: scan.records.filter((r) => r[0] === ENTRY).map((r) => r.subarray(1)),
        sealed: scan.damage === undefined && last !== undefined && last[0] === TRAILER,
        empty: data.length === 0,
        tornBytes: scan.tornBytes,
        ...(scan.damage ? { damage: scan.damage } : {}),
      });
    }
    return out.sort((a, b) => a.seq - b.seq);
  }

  get dir(): string {
    return this.options.dir;
  }

  /** The segment appends go to now. */
  get currentSegment(): number {
    return this.writer.seq;
  }

  get highestClosed(): number {
    return this.highestClosedValue;
  }

  /** Entries whose append completed (durable only after a sync or roll). */
  get appended(): number {
    return this.appendedValue;
  }

  /** Appends an entry to the active segment; durable after the next sync or roll. */
  append(entry: Uint8Array): Promise<void> {
    return this.appendBatch([entry]);
  }

  /** Appends entries with one write (group commit of a batch); durable after the next sync or roll. */
  appendBatch(entries: readonly Uint8Array[]): Promise<void> {
    if (this.closed) return Promise.reject(new Error(`WAL ${this.options.dir} is closed`));
    if (entries.length === 0) return Promise.resolve();
    const w = this.writer;
    const records = entries.map((e) => typed(ENTRY, e));
    const data = new Uint8Array(records.reduce((n, r) => n + r.length, 0));
    let at = 0;
    for (const r of records) {
      data.set(r, at);
      at += r.length;
    }
    w.entries += entries.length;
    const done = this.write(w, data);
    return done.then(() => {
      this.appendedValue += entries.length;
    });
  }

  /** Makes every entry appended so far durable. */
  async sync(thread?: LogicalThread): Promise<void> {
    const w = this.writer;
    const done = w.tail.then(() => w.file.sync());
    w.tail = done;
    await io(thread, `wal sync ${segmentName(w.seq)}`, done);
  }

  /**
   * Opens the next segment ahead of a roll, so the roll itself is only a seal and a switch. A
   * barrier's acquire phase, when no member is fsyncing yet, is the right moment.
   */
  prepareRoll(thread?: LogicalThread): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.refillTimer?.cancel();
    const seq = this.writer.seq + 1;
    if (!this.prepared || this.prepared.seq !== seq) {
      void this.prepared?.writer.then((stale) => stale?.file.close());
      this.prepared = {
        seq,
        writer: this.openSegment(seq).catch((err: unknown) => {
          this.log(`WAL ${this.options.dir}: cannot open ${segmentName(seq)} ahead: ${(err as Error).message}`);
          return undefined;
        }),
      };
    }
    return io(
      thread,
      `open ${segmentName(seq)}`,
      this.prepared.writer.then(() => {}),
    );
  }

  /** Closes the active segment (trailer, fsync, close) and continues in the next one. */
  roll(thread: LogicalThread): Promise<RollResult> {
    assert(!this.closed, 'roll of a closed WAL');
    this.refillTimer?.cancel();
    const run = this.rollChain.then(() => thread.run(WAL_FRAMES.rollWriter, () => this.doRoll(thread)));
    this.rollChain = run.catch(() => {});
    return run;
  }

  /** Seals the active segment so the directory holds only sealed (or empty) segments; appends then fail. */
  async close(thread?: LogicalThread): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.refillTimer?.cancel();
    await this.refilling;
    await this.rollChain;
    await io(thread, `seal ${segmentName(this.writer.seq)}`, this.seal(this.writer));
    await this.closing;
    const p = this.prepared;
    this.prepared = undefined;
    const w = await p?.writer;
    if (w) {
      // Nothing was written to it (the header waits for the first write): it stays an empty,
      // preallocated segment.
      await w.tail.catch(() => {});
      await w.file.close();
    }
  }

  /** Drops the WAL as a crash would: file handles closed, nothing sealed or synced. */
  async abandon(): Promise<void> {
    this.closed = true;
    this.refillTimer?.cancel();
    const handles = [this.writer, await this.prepared?.writer].filter((w): w is Writer => w !== undefined);
    this.prepared = undefined;
    await Promise.all(handles.map((w) => w.tail.catch(() => {}).then(() => w.file.close().catch(() => {}))));
    await this.closing;
  }

  private async doRoll(thread: LogicalThread): Promise<RollResult> {
    const clock = this.options.clock;
    const t0 = clock.nowMs();
    const old = this.writer;
    const nextSeq = old.seq + 1;
    const next = await thread.run(WAL_FRAMES.createWriter, () =>
      io(thread, `open ${segmentName(nextSeq)}`, this.takePrepared(nextSeq)),
    );
    this.writer = next;
    await thread.run(WAL_FRAMES.closeWriter, () => io(thread, `seal ${segmentName(old.seq)}`, this.seal(old)));
    this.highestClosedValue = old.seq;
    // Opening a preallocated file is cheap (no inode to create), so the next roll's segment can
    // be opened now; a segment that would have to be created waits for the next acquire.
    if (nextSeq + 1 <= this.highestFile) void this.prepareRoll();
    this.scheduleRefill();
    return { highestClosed: old.seq, rolledAtMs: clock.wallMs(), durationMs: clock.nowMs() - t0 };
  }

  /** Queues a write of `data` (after the header, if it was not written yet). */
  private write(w: Writer, data: Uint8Array): Promise<void> {
    let bytes = data;
    if (w.header) {
      bytes = new Uint8Array(w.header.length + data.length);
      bytes.set(w.header);
      bytes.set(data, w.header.length);
      w.header = undefined;
    }
    const done = w.tail.then(() => w.file.append(bytes));
    w.tail = done;
    return done;
  }

  /**
   * Writes the trailer and makes the segment durable. Closing the file handle is not part of
   * durability, so it happens after the roll has answered (close() waits for it).
   */
  private seal(w: Writer): Promise<void> {
    const trailer = typed(TRAILER, utf8(JSON.stringify({ seq: w.seq, entries: w.entries })));
    this.write(w, trailer);
    const synced = w.tail.then(() => w.file.sync());
    const closed = synced.then(() => w.file.close());
    w.tail = closed;
    this.closing = this.closing.then(() => closed.catch(() => {}));
    return synced;
  }

  private async takePrepared(seq: number): Promise<Writer> {
    const p = this.prepared;
    this.prepared = undefined;
    const w = await p?.writer;
    if (w && w.seq === seq) return w;
    // Not expected (a prepared segment is always the next one), but never leak its handle.
    await w?.file.close();
    return this.openSegment(seq);
  }

  /** Opens segment `seq` (a preallocated file, or a new one); its header goes out with the first write. */
  private async openSegment(seq: number): Promise<Writer> {
    const file = await this.options.disk.openAppend(this.path(seq));
    this.highestFile = Math.max(this.highestFile, seq);
    const header = typed(HEADER, utf8(JSON.stringify({ seq, createdAtMs: this.options.clock.wallMs() })));
    if (file.size > 0) {
      // A file left with content (a crash after a prepare) is not reused: that is recovery's job.
      await file.close();
      throw new Error(`${segmentName(seq)} is not empty`);
    }
    return { seq, file, tail: Promise.resolve(), entries: 0, header };
  }

  private scheduleRefill(): void {
    const target = this.options.preallocate ?? 0;
    if (target === 0 || this.closed) return;
    this.refillTimer?.cancel();
    this.refillTimer = this.options.clock.setTimer(this.options.refillDelayMs ?? 1000, () => {
      if (this.closed || this.refilling) return;
      // One file at a time: refilling is background work and must stay out of the way.
      this.refilling = this.topUp(1)
        .catch((err: unknown) => this.log(`WAL ${this.options.dir}: preallocation failed: ${(err as Error).message}`))
        .finally(() => {
          this.refilling = undefined;
          if (this.spareCount() < target) this.scheduleRefill();
        });
    });
  }

  private spareCount(): number {
    return Math.max(0, this.highestFile - this.writer.seq - (this.prepared ? 1 : 0));
  }

  /** Creates up to `max` empty future segments until `preallocate` are spare. */
  private async topUp(max: number): Promise<void> {
    const target = this.options.preallocate ?? 0;
    const missing = Math.min(max, target - this.spareCount());
    if (missing <= 0) return;
    const first = this.highestFile + 1;
    this.highestFile += missing;
    const opened = await Promise.allSettled(
      Array.from({ length: missing }, (_, i) => this.options.disk.openAppend(this.path(first + i))),
    );
    const files = opened.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : []));
    const failed = opened.find((o): o is PromiseRejectedResult => o.status === 'rejected');
    try {
      // One fsync commits the new files' metadata now, so the next roll's fsync does not carry it
      // (on a journaling filesystem the first fsync after many creations is the slow one).
      if (!failed && files.length > 0) await files[files.length - 1]!.sync();
    } finally {
      // Every handle that opened is closed, even when another failed (EMFILE): none is leaked.
      await Promise.all(files.map((f) => f.close()));
    }
    if (failed) throw failed.reason;
  }

  private path(seq: number): string {
    return joinPath(this.options.dir, segmentName(seq));
  }
}

/** Cuts a segment's torn tail (open checked it is one) and seals the segment. */
async function recoverSegment(
  options: WalOptions,
  check: SegmentCheck,
  report: RecoveryReport,
  thread: LogicalThread | undefined,
): Promise<void> {
  const { disk, dir } = options;
  const { name, path } = check;
  // Read again: the check kept no data, and only the last two segments (or a rare unsealed older
  // one) get here.
  const scan = scanRecords(await io(thread, `read ${name}`, disk.readFile(path)), WAL_RECORD_FORMAT);
  assert(scan.damage === undefined || scan.damage.kind === 'torn', `${name} changed while the WAL was opening`);
  if (scan.tornBytes > 0) {
    options.log?.(`WAL ${dir}: cutting ${scan.tornBytes} torn bytes from ${name} (${scan.reason})`);
    await io(thread, `truncate ${name}`, disk.truncate(path, scan.validBytes));
    report.tornBytesCut += scan.tornBytes;
  }
  const last = scan.records[scan.records.length - 1];
  if (last !== undefined && last[0] === TRAILER) return;
  const entries = scan.records.filter((r) => r[0] === ENTRY).length;
  const file = await io(thread, `open ${name}`, disk.openAppend(path));
  try {
    await file.append(typed(TRAILER, utf8(JSON.stringify({ seq: check.seq, entries, recovered: true }))));
    await io(thread, `sync ${name}`, file.sync());
  } finally {
    await file.close();
  }
  report.sealed++;
}

/** Decodes a header, entry or trailer record (diagnostics). */
export function describeRecord(record: Uint8Array): string {
  const kind =
    record[0] === ENTRY ? 'entry' : record[0] === HEADER ? 'header' : record[0] === TRAILER ? 'trailer' : '?';
  return `${kind} ${fromUtf8(record.subarray(1))}`;
}
