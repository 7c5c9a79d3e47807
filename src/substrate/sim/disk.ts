// The simulated disk: in-memory files per node with fsync latency and crash semantics. Data is
// durable once a sync (or writeFile) completes; a crash keeps the durable bytes and, with torn
// writes on, a random prefix of the rest — so a torn tail record is something a WAL must survive.
// Metadata operations (mkdirp, rename, remove, truncate) are durable at once, as on a journaled
// file system. Syncs on one node queue on its device, one after another.
import type { AppendFile, Disk } from '../types.js';
import { assert } from '../../util/assert.js';
import type { SimRandom } from './random.js';
import { EventKind, type Scheduler } from './scheduler.js';
import type { SimNode } from './node.js';

export interface DiskModel {
  /** Time one fsync takes on the device (they queue per node). */
  fsyncMs: number;
  /** Uniform extra time added to each fsync. */
  fsyncJitterMs: number;
  /** An append into the page cache. */
  appendMs: number;
  readMs: number;
  /** mkdirp, list, size, remove, open, close. */
  metaMs: number;
  /** On crash, keep a random prefix of unsynced bytes instead of none of them. */
  tornWrites: boolean;
}

export const DEFAULT_DISK: DiskModel = {
  fsyncMs: 1,
  fsyncJitterMs: 0.1,
  appendMs: 0.002,
  readMs: 0.02,
  metaMs: 0.005,
  tornWrites: true,
};

/** All simulated disks together may hold this much before ENOSPC. */
export const DEFAULT_MAX_DISK_BYTES = 4 * 1024 * 1024 * 1024;

/** Node-style file system error: err.code is ENOENT, EEXIST, EISDIR, ENOTDIR, EBADF or ENOSPC. */
export class SimFsError extends Error {
  constructor(
    readonly code: 'ENOENT' | 'EEXIST' | 'EISDIR' | 'ENOTDIR' | 'EBADF' | 'ENOSPC',
    message: string,
  ) {
    super(`${code}: ${message}`);
    this.name = 'Error';
  }
}

/** World-wide byte budget, shared by every node's disk. */
export class DiskBudget {
  usedBytes = 0;
  constructor(readonly maxBytes: number) {}
  grow(bytes: number, path: string): void {
    if (this.usedBytes + bytes > this.maxBytes) {
      throw new SimFsError('ENOSPC', `no space left on simulated disks (${this.maxBytes} bytes), write '${path}'`);
    }
    this.usedBytes += bytes;
  }
  shrink(bytes: number): void {
    this.usedBytes -= bytes;
    assert(this.usedBytes >= 0, 'disk budget went negative');
  }
}

class SimFile {
  buf = new Uint8Array(64);
  length = 0;
  /** Bytes known durable. */
  synced = 0;

  append(data: Uint8Array): void {
    const need = this.length + data.byteLength;
    if (need > this.buf.length) {
      let cap = this.buf.length * 2;
      while (cap < need) cap *= 2;
      const b = new Uint8Array(cap);
      b.set(this.buf.subarray(0, this.length));
      this.buf = b;
    }
    this.buf.set(data, this.length);
    this.length = need;
  }

  resize(size: number): void {
    if (size > this.length) this.append(new Uint8Array(size - this.length));
    this.length = size;
    if (this.synced > size) this.synced = size;
  }

  contents(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}

/** One node's file system; it survives the node's crashes (minus what was never synced). */
export class DiskState {
  readonly files = new Map<string, SimFile>();
  readonly dirs = new Set<string>();
  /** When the device finishes the syncs queued so far. */
  busyUntilMs = 0;

  constructor(readonly budget: DiskBudget) {}

  /** Power loss: unsynced bytes vanish (torn: a random prefix of them survives). */
  crash(rng: SimRandom, torn: boolean): { lostBytes: number } {
    let lostBytes = 0;
    for (const f of this.files.values()) {
      const unsynced = f.length - f.synced;
      if (unsynced <= 0) continue;
      const keep = torn ? rng.int(unsynced + 1) : 0;
      lostBytes += unsynced - keep;
      this.budget.shrink(unsynced - keep);
      f.length = f.synced + keep;
      f.synced = f.length;
    }
    this.busyUntilMs = 0;
    return { lostBytes };
  }

  totalBytes(): number {
    let n = 0;
    for (const f of this.files.values()) n += f.length;
    return n;
  }
}

function normalize(path: string): string {
  assert(path.length > 0, 'empty path');
  let p = path.replace(/\/{2,}/g, '/');
  if (p.length > 1 && p.endsWith('/')) p = p.slice(0, -1);
  return p;
}

function parentOf(path: string): string {
  const i = path.lastIndexOf('/');
  if (i < 0) return '';
  if (i === 0) return '/';
  return path.slice(0, i);
}

function isRoot(dir: string): boolean {
  return dir === '' || dir === '/' || dir === '.';
}

class SimAppendFile implements AppendFile {
  private closed = false;

  constructor(
    private readonly disk: SimDisk,
    private readonly file: SimFile,
    readonly path: string,
    public size: number,
  ) {}

  append(data: Uint8Array): Promise<void> {
    return this.disk.run(this.disk.model.appendMs, () => {
      if (this.closed) throw new SimFsError('EBADF', `bad file descriptor, write '${this.path}'`);
      this.disk.state.budget.grow(data.byteLength, this.path);
      this.file.append(data);
      this.size += data.byteLength;
    });
  }

  sync(): Promise<void> {
    const target = this.file.length;
    return this.disk.run(
      this.disk.syncDelayMs(),
      () => {
        if (this.closed) throw new SimFsError('EBADF', `bad file descriptor, fsync '${this.path}'`);
      },
      () => {
        if (this.file.synced < target) this.file.synced = Math.min(target, this.file.length);
      },
    );
  }

  close(): Promise<void> {
    return this.disk.run(this.disk.model.metaMs, () => {
      this.closed = true;
    });
  }
}

/** The Disk one node incarnation sees. */
export class SimDisk implements Disk {
  constructor(
    readonly state: DiskState,
    private readonly node: SimNode,
    private readonly incarnation: number,
    private readonly scheduler: Scheduler,
    readonly model: DiskModel,
    private readonly rng: SimRandom,
  ) {}

  /**
   * Applies `now` at once (its effect or its error) and settles after delayMs of virtual time;
   * `done` runs at completion (durability). A crashed incarnation's calls never settle.
   */
  run<T>(delayMs: number, now: () => T, done?: () => void): Promise<T> {
    if (this.node.incarnation !== this.incarnation) return new Promise<T>(() => {});
    let value: T;
    let error: unknown;
    let failed = false;
    try {
      value = now();
    } catch (err) {
      failed = true;
      error = err;
    }
    return new Promise<T>((resolve, reject) => {
      this.scheduler.timer(
        delayMs,
        () => {
          if (failed) {
            reject(error as Error);
            return;
          }
          done?.();
          resolve(value);
        },
        this.node,
        EventKind.disk,
      );
    });
  }

  /** The device serializes syncs: each waits for the ones queued before it. */
  syncDelayMs(): number {
    const now = this.scheduler.nowMs;
    const start = Math.max(now, this.state.busyUntilMs);
    const jitter = this.model.fsyncJitterMs > 0 ? this.model.fsyncJitterMs * this.rng.next() : 0;
    this.state.busyUntilMs = start + this.model.fsyncMs + jitter;
    return this.state.busyUntilMs - now;
  }

  mkdirp(path: string): Promise<void> {
    return this.run(this.model.metaMs, () => {
      const p = normalize(path);
      const parts: string[] = [];
      let cur = p;
      while (!isRoot(cur)) {
        parts.push(cur);
        cur = parentOf(cur);
      }
      for (let i = parts.length - 1; i >= 0; i--) {
        const d = parts[i]!;
        if (this.state.files.has(d)) throw new SimFsError('ENOTDIR', `not a directory, mkdir '${path}'`);
        this.state.dirs.add(d);
      }
    });
  }

  openAppend(path: string): Promise<AppendFile> {
    return this.run(this.model.metaMs, () => {
      const p = normalize(path);
      if (this.state.dirs.has(p)) throw new SimFsError('EISDIR', `illegal operation on a directory, open '${path}'`);
      let f = this.state.files.get(p);
      if (f === undefined) {
        this.requireParent(p, 'open');
        f = new SimFile();
        this.state.files.set(p, f);
      }
      return new SimAppendFile(this, f, path, f.length);
    });
  }

  readFile(path: string): Promise<Uint8Array> {
    return this.run(this.model.readMs, () => this.fileAt(path, 'open').contents());
  }

  writeFile(path: string, data: Uint8Array): Promise<void> {
    let file: SimFile | undefined;
    return this.run(
      this.syncDelayMs(),
      () => {
        const p = normalize(path);
        if (this.state.dirs.has(p)) throw new SimFsError('EISDIR', `illegal operation on a directory, open '${path}'`);
        file = this.state.files.get(p);
        if (file === undefined) {
          this.requireParent(p, 'open');
          file = new SimFile();
          this.state.files.set(p, file);
        }
        this.state.budget.grow(data.byteLength, path);
        this.state.budget.shrink(file.length);
        file.resize(0);
        file.append(data);
      },
      () => {
        file!.synced = file!.length;
      },
    );
  }

  list(dir: string): Promise<string[]> {
    return this.run(this.model.metaMs, () => {
      const d = normalize(dir);
      if (!isRoot(d) && !this.state.dirs.has(d)) return [];
      const prefix = d === '/' ? '/' : d === '' || d === '.' ? '' : d + '/';
      const names = new Set<string>();
      const consider = (key: string): void => {
        if (!key.startsWith(prefix) || key.length === prefix.length) return;
        const rest = key.slice(prefix.length);
        if (!rest.includes('/')) names.add(rest);
      };
      for (const k of this.state.files.keys()) consider(k);
      for (const k of this.state.dirs) consider(k);
      return [...names].sort();
    });
  }

  rename(from: string, to: string): Promise<void> {
    return this.run(this.syncDelayMs(), () => {
      const a = normalize(from);
      const b = normalize(to);
      const f = this.state.files.get(a);
      if (f !== undefined) {
        this.requireParent(b, 'rename');
        if (this.state.dirs.has(b))
          throw new SimFsError('EISDIR', `illegal operation on a directory, rename '${from}' -> '${to}'`);
        const old = this.state.files.get(b);
        if (old !== undefined && old !== f) this.state.budget.shrink(old.length);
        this.state.files.delete(a);
        this.state.files.set(b, f);
        return;
      }
      if (!this.state.dirs.has(a))
        throw new SimFsError('ENOENT', `no such file or directory, rename '${from}' -> '${to}'`);
      this.requireParent(b, 'rename');
      const moves: [string, string][] = [];
      for (const k of this.state.files.keys()) if (k.startsWith(a + '/')) moves.push([k, b + k.slice(a.length)]);
      for (const [k, nk] of moves) {
        this.state.files.set(nk, this.state.files.get(k)!);
        this.state.files.delete(k);
      }
      const dirMoves = [...this.state.dirs].filter((k) => k === a || k.startsWith(a + '/'));
      for (const k of dirMoves) {
        this.state.dirs.delete(k);
        this.state.dirs.add(b + k.slice(a.length));
      }
    });
  }

  remove(path: string): Promise<void> {
    return this.run(this.model.metaMs, () => {
      const p = normalize(path);
      const f = this.state.files.get(p);
      if (f !== undefined) {
        this.state.budget.shrink(f.length);
        this.state.files.delete(p);
      }
      const under = p === '/' ? '/' : p + '/';
      for (const [k, g] of [...this.state.files]) {
        if (k.startsWith(under)) {
          this.state.budget.shrink(g.length);
          this.state.files.delete(k);
        }
      }
      for (const k of [...this.state.dirs]) if (k === p || k.startsWith(under)) this.state.dirs.delete(k);
    });
  }

  truncate(path: string, size: number): Promise<void> {
    assert(Number.isInteger(size) && size >= 0, `truncate to a bad size ${size}`);
    let file: SimFile | undefined;
    return this.run(
      this.syncDelayMs(),
      () => {
        file = this.fileAt(path, 'open');
        if (size > file.length) this.state.budget.grow(size - file.length, path);
        else this.state.budget.shrink(file.length - size);
        file.resize(size);
      },
      () => {
        file!.synced = file!.length;
      },
    );
  }

  size(path: string): Promise<number | undefined> {
    return this.run(this.model.metaMs, () => {
      const p = normalize(path);
      const f = this.state.files.get(p);
      if (f !== undefined) return f.length;
      return this.state.dirs.has(p) ? 0 : undefined;
    });
  }

  private fileAt(path: string, op: string): SimFile {
    const p = normalize(path);
    const f = this.state.files.get(p);
    if (f !== undefined) return f;
    if (this.state.dirs.has(p)) throw new SimFsError('EISDIR', `illegal operation on a directory, ${op} '${path}'`);
    throw new SimFsError('ENOENT', `no such file or directory, ${op} '${path}'`);
  }

  private requireParent(p: string, op: string): void {
    const parent = parentOf(p);
    if (isRoot(parent) || this.state.dirs.has(parent)) return;
    throw new SimFsError('ENOENT', `no such file or directory, ${op} '${p}'`);
  }
}
