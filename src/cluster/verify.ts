// Checking a node's data on disk as the node itself sees it when it opens (WAL segments, the backup
// table's log), and the repair a node never does on its own: a damaged file is copied aside
// (`<file>.corrupt-<time>`, kept) and rewritten with every intact record, so the node opens again
// and the dropped bytes can still be read from the copy. Through the substrate's Disk, like the
// WAL and the table, so it runs on the simulated disk too.
import type { Clock, Disk } from '../substrate/types.js';
import { joinPath } from '../substrate/types.js';
import { BACKUP_RECORD_FORMAT, BACKUP_TABLE_LOG } from './backup-table.js';
import { salvageRecords, scanRecords, type Damage, type RecordFormat } from './records.js';
import { refusedDamage, Wal, WAL_RECORD_FORMAT } from './wal.js';

export type FileKind = 'wal-segment' | 'backup-table';

/**
 * ok; torn-tail: an incomplete last record, never acknowledged, that the node cuts when it opens;
 * corrupt: damage the node refuses to open with.
 */
export type FileStatus = 'ok' | 'torn-tail' | 'corrupt';

export interface FileVerdict {
  path: string;
  kind: FileKind;
  bytes: number;
  /** Intact records in the file (after a repair: the ones it kept). */
  records: number;
  status: FileStatus;
  /** Every damaged span, in file order. */
  damage: Damage[];
  /** After --repair: the kept copy of the file as it was, and what the file lost. */
  quarantine?: string;
  droppedBytes?: number;
}

export interface VerifyOptions {
  /** Quarantine and rewrite corrupt files. */
  repair: boolean;
  /** Names the quarantine copies by wall-clock time. */
  clock: Clock;
  /** Called after each file, for progress on long checks. */
  onFile?: (verdict: FileVerdict) => void;
}

/** Bound on attempts to find a free quarantine name beside a file. */
const MAX_QUARANTINE_NAMES = 100;

/** Checks (and with `repair`, repairs) every used segment of the WAL in `dir`. */
export async function verifyWal(disk: Disk, dir: string, options: VerifyOptions): Promise<FileVerdict[]> {
  const { segments } = await Wal.inspect(disk, dir);
  const out: FileVerdict[] = [];
  for (const check of segments) {
    const base = { path: check.path, kind: 'wal-segment' as const, bytes: check.bytes };
    let verdict: FileVerdict;
    if (check.damage === undefined) {
      verdict = { ...base, records: check.records, status: 'ok', damage: [] };
    } else if (refusedDamage(check) === undefined) {
      verdict = { ...base, records: check.records, status: 'torn-tail', damage: [check.damage] };
    } else {
      verdict = await corruptFile(disk, check.path, 'wal-segment', WAL_RECORD_FORMAT, options);
    }
    options.onFile?.(verdict);
    out.push(verdict);
  }
  return out;
}

/** Checks (and with `repair`, repairs) the backup table's log in `dir`; undefined when there is none. */
export async function verifyBackupTable(
  disk: Disk,
  dir: string,
  options: VerifyOptions,
): Promise<FileVerdict | undefined> {
  const path = joinPath(dir, BACKUP_TABLE_LOG);
  if ((await disk.size(path)) === undefined) return undefined;
  const data = await disk.readFile(path);
  const scan = scanRecords(data, BACKUP_RECORD_FORMAT);
  const base = { path, kind: 'backup-table' as const, bytes: data.length };
  let verdict: FileVerdict;
  if (scan.damage === undefined) verdict = { ...base, records: scan.records.length, status: 'ok', damage: [] };
  else if (scan.damage.kind === 'torn') {
    verdict = { ...base, records: scan.records.length, status: 'torn-tail', damage: [scan.damage] };
  } else verdict = await corruptFile(disk, path, 'backup-table', BACKUP_RECORD_FORMAT, options, data);
  options.onFile?.(verdict);
  return verdict;
}

/** Every damaged span of a corrupt file; with repair, the copy kept and the file rewritten. */
async function corruptFile(
  disk: Disk,
  path: string,
  kind: FileKind,
  format: RecordFormat,
  options: VerifyOptions,
  read?: Uint8Array,
): Promise<FileVerdict> {
  const data = read ?? (await disk.readFile(path));
  const salvage = salvageRecords(data, format);
  const verdict: FileVerdict = {
    path,
    kind,
    bytes: data.length,
    records: salvage.records.length,
    status: 'corrupt',
    damage: salvage.damage,
  };
  if (!options.repair) return verdict;
  // The copy is durable before the file changes: whatever happens next, nothing is lost.
  const quarantine = await freeName(disk, `${path}.corrupt-${stamp(options.clock.wallMs())}`);
  await disk.writeFile(quarantine, data);
  const kept = new Uint8Array(salvage.records.reduce((n, r) => n + r.framed.length, 0));
  let at = 0;
  for (const r of salvage.records) {
    kept.set(r.framed, at);
    at += r.framed.length;
  }
  const tmp = `${path}.repairing`;
  await disk.writeFile(tmp, kept);
  await disk.rename(tmp, path);
  return { ...verdict, quarantine, droppedBytes: data.length - kept.length };
}

async function freeName(disk: Disk, wanted: string): Promise<string> {
  for (let i = 1; i <= MAX_QUARANTINE_NAMES; i++) {
    const name = i === 1 ? wanted : `${wanted}-${i}`;
    if ((await disk.size(name)) === undefined) return name;
  }
  throw new Error(`no free quarantine name beside ${wanted} after ${MAX_QUARANTINE_NAMES} tries`);
}

/** 20250102T030405Z: sortable and safe in a file name. */
function stamp(wallMs: number): string {
  return new Date(wallMs)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
}
