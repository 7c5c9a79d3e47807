// The backup system table, kept by the master: per backup root and worker, the last rolled WAL
// segment and when it was rolled.
//
// Storage: an append-only log of length+CRC framed JSON records through the substrate's Disk,
// fsynced with group commit, replayed on open and compacted by rewriting a snapshot under a
// temporary name and renaming it over the log. On open only a torn tail (an incomplete last record,
// records.ts) is cut; any other damage refuses to open, naming the file and byte offset, and leaves
// the log untouched (`rollcall verify --repair` quarantines it). Why not SQLite (better-sqlite3):
// protocol code gets all I/O from the injected substrate so the master runs unchanged on the
// simulated disk, whose crash model (unsynced bytes lost) then covers the table too; SQLite would
// bypass that with its own file I/O, add a native build, and block the event loop on each fsync —
// every logical thread of the node would stall behind it. The table is tiny (one row per worker
// and root) and read from memory, so a log plus snapshot is all the database it needs.
import type { AppendFile, Clock, Disk } from '../substrate/types.js';
import { joinPath } from '../substrate/types.js';
import type { LogicalThread } from '../threads/index.js';
import { io } from './io.js';
import { CorruptDataError, encodeRecord, fromUtf8, scanRecords, utf8, type RecordFormat } from './records.js';

export interface BackupRow {
  backupRoot: string;
  /** Worker name (HBase: the region server). */
  server: string;
  /** Highest closed WAL segment at the roll. */
  segment: number;
  /** Wall-clock time of the roll on the worker. */
  rolledAtMs: number;
  /** Procedure instance that produced the row. */
  procedure?: string;
}

interface LogRecord {
  put: BackupRow[];
}

export const BACKUP_TABLE_LOG = 'backup-system-table.log';
const LOG_NAME = BACKUP_TABLE_LOG;

/** Why a payload is not a log record, or undefined when it is one. */
function invalidRecord(payload: Uint8Array): string | undefined {
  let record: unknown;
  try {
    record = JSON.parse(fromUtf8(payload));
  } catch {
    return 'a record that is not JSON';
  }
  const put = (record as { put?: unknown } | null)?.put;
  if (!Array.isArray(put)) return 'a record without a put list';
  const rowOk = (r: unknown): boolean => {
    const row = r as Partial<BackupRow> | null;
    return (
      typeof row?.backupRoot === 'string' &&
      typeof row.server === 'string' &&
      Number.isSafeInteger(row.segment) &&
      Number.isFinite(row.rolledAtMs) &&
      (row.procedure === undefined || typeof row.procedure === 'string')
    );
  };
  return put.every(rowOk) ? undefined : 'a record with a malformed row';
}

/** The log's records are JSON objects: `{"put":[…]}`. */
export const BACKUP_RECORD_FORMAT: RecordFormat = {
  firstByte: (b) => b === 0x7b, // '{'
  invalid: invalidRecord,
};
/** Records past which the log is rewritten as a snapshot (bounded growth). */
export const COMPACT_AFTER_RECORDS = 4096;

export const BACKUP_TABLE_FRAMES = {
  read: 'rollcall.backup.impl.BackupSystemTable.readRegionServerLastLogRollResult',
  write: 'rollcall.backup.impl.BackupSystemTable.writeRegionServerLastLogRollResult',
} as const;

function key(backupRoot: string, server: string): string {
  return `${backupRoot}\u0000${server}`;
}

export class BackupSystemTable {
  /** Rows as of the last durable write: what readers see. */
  private readonly visible = new Map<string, BackupRow>();
  /** Rows as the log holds them, durable or not: what a snapshot must contain. */
  private readonly latest = new Map<string, BackupRow>();
  private file!: AppendFile;
  private chain: Promise<void> = Promise.resolve();
  private appendedSeq = 0;
  private writtenSeq = 0;
  private syncedSeq = 0;
  private syncing: Promise<void> | undefined;
  private records = 0;
  private closed = false;

  private constructor(
    private readonly disk: Disk,
    private readonly dir: string,
    private readonly clock: Clock,
    private readonly log: (message: string) => void,
  ) {}

  static async open(
    disk: Disk,
    dir: string,
    clock: Clock,
    log: (message: string) => void = () => {},
  ): Promise<BackupSystemTable> {
    const t = new BackupSystemTable(disk, dir, clock, log);
    await disk.mkdirp(dir);
    const path = t.path();
    if ((await disk.size(path)) !== undefined) {
      const scan = scanRecords(await disk.readFile(path), BACKUP_RECORD_FORMAT);
      if (scan.damage?.kind === 'corrupt') throw new CorruptDataError(path, scan.damage);
      for (const r of scan.records) t.apply(JSON.parse(fromUtf8(r)) as LogRecord, true);
      t.records = scan.records.length;
      if (scan.tornBytes > 0) {
        log(`backup table: cutting ${scan.tornBytes} torn bytes (${scan.reason})`);
        await disk.truncate(path, scan.validBytes);
      }
    }
    if (t.records > Math.max(16, 2 * t.latest.size)) await t.writeSnapshot();
    t.file = await disk.openAppend(path);
    return t;
  }

  /** Last rolled segment per server for one backup root (HBase's readRegionServerLastLogRollResult). */
  readRegionServerLastLogRollResult(backupRoot: string): Record<string, number> {
    const out: Record<string, number> = {};
    for (const r of this.visible.values()) if (r.backupRoot === backupRoot) out[r.server] = r.segment;
    return out;
  }

  rows(backupRoot?: string): BackupRow[] {
    return [...this.visible.values()]
      .filter((r) => backupRoot === undefined || r.backupRoot === backupRoot)
      .sort((a, b) => (a.server < b.server ? -1 : a.server > b.server ? 1 : 0));
  }

  /**
   * Durably records rows (one log record, group-committed fsync). A row whose segment is older
   * than the stored one is skipped, as HBase skips a stale roll result.
   */
  async writeRegionServerLastLogRollResult(
    thread: LogicalThread | undefined,
    rows: readonly BackupRow[],
  ): Promise<void> {
    if (this.closed) throw new Error('backup table is closed');
    const fresh = rows.filter((r) => (this.latest.get(key(r.backupRoot, r.server))?.segment ?? -1) <= r.segment);
    if (fresh.length === 0) return;
    const record: LogRecord = { put: fresh };
    const seq = ++this.appendedSeq;
    this.apply(record, false);
    const data = encodeRecord(utf8(JSON.stringify(record)));
    this.chain = this.chain.then(async () => {
      await this.file.append(data);
      this.writtenSeq = seq;
      this.records++;
      if (this.records > COMPACT_AFTER_RECORDS && this.records > 2 * this.latest.size) await this.compact();
    });
    await io(thread, 'backup table append', this.chain);
    await io(thread, 'backup table fsync', this.syncUpTo(seq));
    for (const r of fresh) {
      const k = key(r.backupRoot, r.server);
      const cur = this.visible.get(k);
      if (!cur || cur.segment <= r.segment) this.visible.set(k, r);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.chain.catch(() => {});
    await this.syncing?.catch(() => {});
    await this.file.close();
  }

  /** One fsync covers every record appended before it started (group commit). */
  private async syncUpTo(seq: number): Promise<void> {
    while (this.syncedSeq < seq) {
      if (this.syncing) {
        await this.syncing;
        continue;
      }
      const target = this.writtenSeq;
      const file = this.file;
      this.syncing = file.sync().then(
        () => {
          this.syncedSeq = Math.max(this.syncedSeq, target);
          this.syncing = undefined;
        },
        (err: unknown) => {
          this.syncing = undefined;
          throw err;
        },
      );
      await this.syncing;
    }
  }

  /** Runs inside the append chain: no append is in flight, so the snapshot is exact. */
  private async compact(): Promise<void> {
    await this.syncing?.catch(() => {});
    await this.file.close();
    await this.writeSnapshot();
    this.file = await this.disk.openAppend(this.path());
    this.syncedSeq = this.writtenSeq;
    this.log(`backup table: compacted to ${this.latest.size} rows`);
  }

  private async writeSnapshot(): Promise<void> {
    const data = encodeRecord(utf8(JSON.stringify({ put: [...this.latest.values()] } satisfies LogRecord)));
    const tmp = this.path() + '.compacting';
    await this.disk.writeFile(tmp, data);
    await this.disk.rename(tmp, this.path());
    this.records = 1;
  }

  private apply(record: LogRecord, visibleToo: boolean): void {
    for (const r of record.put) {
      const k = key(r.backupRoot, r.server);
      const cur = this.latest.get(k);
      if (!cur || cur.segment <= r.segment) {
        this.latest.set(k, r);
        if (visibleToo) this.visible.set(k, r);
      }
    }
  }

  private path(): string {
    return joinPath(this.dir, LOG_NAME);
  }

  /** Wall-clock now, for rows written by the master itself. */
  nowWallMs(): number {
    return this.clock.wallMs();
  }
}
