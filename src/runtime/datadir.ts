// A directory a command writes to (a node's --data, demo's --out), checked before any work: made if
// missing, and refused with one line when a file is in the way, it cannot be made (/proc/x) or it
// is not writable.
import { constants } from 'node:fs';
import fs from 'node:fs/promises';
import { mkdirp } from '../substrate/real/disk.js';
import { NodeConfigError } from './secrets.js';

const WHY: Record<string, string> = {
  ENOTDIR: 'a file is in the way (it must be a directory)',
  EEXIST: 'a file is in the way (it must be a directory)',
  ENOENT: 'it cannot be created there',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on the device',
};

export async function prepareDir(dir: string, flag: string): Promise<void> {
  try {
    await mkdirp(dir);
    await fs.access(dir, constants.W_OK | constants.X_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new NodeConfigError(`${flag} ${dir}: ${(code && WHY[code]) ?? (err as Error).message}`);
  }
}
