// `rollcall verify` on real files: finds the WAL directories and backup tables under DATA_DIR (a
// node's --data, or a directory of nodes' data such as a cluster's), and checks or repairs each with
// the same code the nodes open them with.
import type { Dirent } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { BACKUP_TABLE_LOG, verifyBackupTable, verifyWal, type FileVerdict } from '../cluster/index.js';
import { RealClock, RealDisk } from '../substrate/real/index.js';

/** How deep under DATA_DIR stores are looked for: a cluster dir / node dir / wal. */
export const MAX_SEARCH_DEPTH = 3;
/** Bound on directories looked at: a DATA_DIR of millions is a mistake (e.g. `/`). */
export const MAX_SEARCH_DIRS = 10_000;
const SEGMENT_RE = /^wal\.\d{12}$/;

export interface VerifySummary {
  files: number;
  ok: number;
  tornTails: number;
  corrupt: number;
  repaired: number;
}

export interface DataDirReport {
  dataDir: string;
  repair: boolean;
  files: FileVerdict[];
  summary: VerifySummary;
}

/** DATA_DIR is missing, not a directory, or holds nothing to check (the CLI exits 2). */
export class VerifyInputError extends Error {
  override name = 'VerifyInputError';
}

export async function verifyDataDir(
  dataDir: string,
  options: { repair: boolean; onFile?: (verdict: FileVerdict) => void },
): Promise<DataDirReport> {
  const root = path.resolve(dataDir);
  const stat = await fs.stat(root).catch(() => undefined);
  if (!stat) throw new VerifyInputError(`${dataDir} does not exist`);
  if (!stat.isDirectory()) throw new VerifyInputError(`${dataDir} is not a directory`);
  const { walDirs, tableDirs } = await findStores(root);
  if (walDirs.length === 0 && tableDirs.length === 0) {
    throw new VerifyInputError(
      `${dataDir} holds no WAL segments (wal/wal.NNNNNNNNNNNN) and no backup table (backup/${BACKUP_TABLE_LOG}) ` +
        `within ${MAX_SEARCH_DEPTH} levels: is it a node's --data directory?`,
    );
  }
  const disk = new RealDisk();
  const opts = {
    repair: options.repair,
    clock: new RealClock(),
    ...(options.onFile ? { onFile: options.onFile } : {}),
  };
  const files: FileVerdict[] = [];
  for (const dir of tableDirs) {
    const v = await verifyBackupTable(disk, dir, opts);
    if (v) files.push(v);
  }
  for (const dir of walDirs) files.push(...(await verifyWal(disk, dir, opts)));
  return {
    dataDir: root,
    repair: options.repair,
    files,
    summary: {
      files: files.length,
      ok: files.filter((f) => f.status === 'ok').length,
      tornTails: files.filter((f) => f.status === 'torn-tail').length,
      corrupt: files.filter((f) => f.status === 'corrupt').length,
      repaired: files.filter((f) => f.quarantine !== undefined).length,
    },
  };
}

/** Directories holding WAL segments or a backup table, breadth first, bounded in depth and count. */
async function findStores(root: string): Promise<{ walDirs: string[]; tableDirs: string[] }> {
  const walDirs: string[] = [];
  const tableDirs: string[] = [];
  let queue = [root];
  let seen = 0;
  for (let depth = 0; depth <= MAX_SEARCH_DEPTH && queue.length > 0; depth++) {
    const next: string[] = [];
    for (const dir of queue) {
      if (++seen > MAX_SEARCH_DIRS) {
        throw new VerifyInputError(`${root} has more than ${MAX_SEARCH_DIRS} directories: point at one node's data`);
      }
      let entries: Dirent[];
      try {
        entries = await fs.readdir(dir, { withFileTypes: true });
      } catch (err) {
        throw new VerifyInputError(`cannot read ${dir}: ${(err as Error).message}`);
      }
      if (entries.some((e) => e.isFile() && SEGMENT_RE.test(e.name))) walDirs.push(dir);
      if (entries.some((e) => e.isFile() && e.name === BACKUP_TABLE_LOG)) tableDirs.push(dir);
      // Symbolic links are not followed: a loop must not be walked.
      for (const e of entries) if (e.isDirectory()) next.push(path.join(dir, e.name));
    }
    queue = next.sort();
  }
  return { walDirs: walDirs.sort(), tableDirs: tableDirs.sort() };
}
