import fs from 'node:fs/promises';
import path from 'node:path';
import type { AppendFile, Disk } from '../types.js';

/** Bound on the directory levels mkdirp creates: deeper is a typo, not a layout. */
const MAX_MKDIR_LEVELS = 64;

/**
 * mkdir -p without Node's recursive mkdir, which loops for ever (a CPU at 100 %) when mkdir fails
 * with ENOENT under a parent that exists, as under /proc: here every level is tried once.
 */
export async function mkdirp(dir: string): Promise<void> {
  const missing: string[] = [];
  for (let cur = path.resolve(dir); ;) {
    try {
      if ((await fs.stat(cur)).isDirectory()) break;
      throw Object.assign(new Error(`ENOTDIR: not a directory, mkdir '${cur}'`), { code: 'ENOTDIR' });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    if (missing.length >= MAX_MKDIR_LEVELS)
      throw new Error(`mkdir '${dir}': more than ${MAX_MKDIR_LEVELS} missing levels`);
    missing.push(cur);
    const parent = path.dirname(cur);
    if (parent === cur) break;
    cur = parent;
  }
  for (const d of missing.reverse()) {
    try {
      await fs.mkdir(d);
    } catch (err) {
      // Another process made it meanwhile: fine, if it is a directory.
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || !(await fs.stat(d)).isDirectory()) throw err;
    }
  }
}

class RealAppendFile implements AppendFile {
  constructor(
    readonly path: string,
    private readonly handle: fs.FileHandle,
    public size: number,
  ) {}
  async append(data: Uint8Array): Promise<void> {
    this.size += data.byteLength;
    await this.handle.write(data);
  }
  async sync(): Promise<void> {
    await this.handle.datasync();
  }
  async close(): Promise<void> {
    await this.handle.close();
  }
}

export class RealDisk implements Disk {
  async mkdirp(p: string): Promise<void> {
    await mkdirp(p);
  }
  async openAppend(p: string): Promise<AppendFile> {
    const handle = await fs.open(p, 'a');
    const st = await handle.stat();
    return new RealAppendFile(p, handle, st.size);
  }
  async readFile(p: string): Promise<Uint8Array> {
    return fs.readFile(p);
  }
  async writeFile(p: string, data: Uint8Array): Promise<void> {
    const h = await fs.open(p, 'w');
    try {
      await h.write(data);
      await h.datasync();
    } finally {
      await h.close();
    }
  }
  async list(dir: string): Promise<string[]> {
    try {
      return (await fs.readdir(dir)).sort();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
  }
  async rename(from: string, to: string): Promise<void> {
    await fs.rename(from, to);
    // Make the rename itself durable.
    const d = await fs.open(path.dirname(to), 'r');
    try {
      await d.sync();
    } finally {
      await d.close();
    }
  }
  async remove(p: string): Promise<void> {
    await fs.rm(p, { force: true, recursive: true });
  }
  async truncate(p: string, size: number): Promise<void> {
    const h = await fs.open(p, 'r+');
    try {
      await h.truncate(size);
      await h.datasync();
    } finally {
      await h.close();
    }
  }
  async size(p: string): Promise<number | undefined> {
    try {
      return (await fs.stat(p)).size;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }
}
