// What Linux's /proc says about a process: owner, namespaced pid, signal dispositions, start time,
// command line, and whether a JVM library is mapped. Everything capture knows about a local JVM
// before it talks to it comes from here and from hsperfdata (./hsperfdata.ts). All reads are
// bounded, and a missing or unreadable file is an answer (undefined), never an exception.
import { closeSync, openSync, readdirSync, readFileSync, readlinkSync, readSync } from 'node:fs';
import { join } from 'node:path';

/** Longest /proc text file read whole (status, stat, cmdline). */
const MAX_PROC_TEXT_BYTES = 256 * 1024;
/** Longest /proc/<pid>/maps scanned for a JVM library (a JVM's maps is ~100-300 KiB). */
const MAX_MAPS_BYTES = 8 * 1024 * 1024;
const SIGQUIT_BIT = 1n << 2n; // signal 3

export interface ProcStatus {
  /** Effective uid and gid: what the JVM compares an attaching peer against. */
  uid: number;
  gid: number;
  /** The pid as the process itself sees it (innermost pid namespace; `NSpid`'s last entry). */
  nsPid: number;
  /** The kernel's short name of the process (its main thread's name). */
  name: string;
  /** SIGQUIT has a handler installed (a HotSpot JVM installs one unless -Xrs). */
  catchesQuit: boolean;
  ignoresQuit: boolean;
}

/** A /proc tree: the real one, or a fake one in tests. */
export class ProcFs {
  constructor(readonly root = '/proc') {}

  pidDir(pid: number): string {
    return join(this.root, String(pid));
  }

  exists(pid: number): boolean {
    return this.readText(pid, 'stat') !== undefined;
  }

  /** Whole small file under /proc/<pid>, or undefined when absent or unreadable. */
  readText(pid: number, rel: string, maxBytes = MAX_PROC_TEXT_BYTES): string | undefined {
    return readBounded(join(this.pidDir(pid), rel), maxBytes);
  }

  status(pid: number): ProcStatus | undefined {
    const text = this.readText(pid, 'status');
    if (text === undefined) return undefined;
    const field = (name: string): string | undefined => {
      const m = new RegExp(`^${name}:\\s*(.*)$`, 'm').exec(text);
      return m?.[1]?.trim();
    };
    const ids = (name: string): number[] => (field(name) ?? '').split(/\s+/).filter(Boolean).map(Number);
    const uids = ids('Uid');
    const gids = ids('Gid');
    const nsPids = ids('NSpid');
    const mask = (name: string): bigint => {
      const v = field(name);
      return v !== undefined && /^[0-9a-fA-F]+$/.test(v) ? BigInt(`0x${v}`) : 0n;
    };
    if (uids.length < 2 || gids.length < 2) return undefined;
    return {
      uid: uids[1]!,
      gid: gids[1]!,
      // Kernels before 4.1 have no NSpid: the process then shares our pid namespace.
      nsPid: nsPids.length > 0 ? nsPids[nsPids.length - 1]! : pid,
      name: field('Name') ?? '',
      catchesQuit: (mask('SigCgt') & SIGQUIT_BIT) !== 0n,
      ignoresQuit: (mask('SigIgn') & SIGQUIT_BIT) !== 0n,
    };
  }

  /** Start time in clock ticks since boot (field 22 of stat): with the pid, it names one process. */
  startTicks(pid: number): number | undefined {
    const text = this.readText(pid, 'stat');
    if (text === undefined) return undefined;
    // The command name (field 2) is in parentheses and may itself hold spaces and ')'.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    const v = Number(fields[19]);
    return Number.isFinite(v) ? v : undefined;
  }

  cmdline(pid: number): string[] | undefined {
    const text = this.readText(pid, 'cmdline');
    if (text === undefined) return undefined;
    const args = text.split('\0');
    if (args[args.length - 1] === '') args.pop();
    return args;
  }

  /** A variable of the process's initial environment (readable by its owner and root only). */
  environ(pid: number, name: string): string | undefined {
    const text = this.readText(pid, 'environ', 1024 * 1024);
    if (text === undefined) return undefined;
    const prefix = `${name}=`;
    return text
      .split('\0')
      .find((e) => e.startsWith(prefix))
      ?.slice(prefix.length);
  }

  /**
   * Which JVM library the process has mapped: 'hotspot' (libjvm.so), 'openj9' (libj9vm), 'none',
   * or 'unreadable' (another user's process without root).
   */
  jvmLibrary(pid: number): 'hotspot' | 'openj9' | 'none' | 'unreadable' {
    const text = readBounded(join(this.pidDir(pid), 'maps'), MAX_MAPS_BYTES);
    if (text === undefined) return 'unreadable';
    if (/\/libjvm\.so$/m.test(text)) return 'hotspot';
    if (/\/libj9vm\d*\.so$/m.test(text)) return 'openj9';
    return 'none';
  }

  /** The process's /tmp as seen from here: through its root, so a container's /tmp is found too. */
  tmpDir(pid: number): string {
    return join(this.pidDir(pid), 'root', 'tmp');
  }

  /** The process's working directory, through /proc (works across mount namespaces). */
  cwdDir(pid: number): string {
    return join(this.pidDir(pid), 'cwd');
  }

  /** `mnt:[4026531840]`: processes with the same value share /tmp. */
  mountNamespace(pid: number): string | undefined {
    try {
      return readlinkSync(join(this.pidDir(pid), 'ns', 'mnt'));
    } catch {
      return undefined;
    }
  }

  /** Every pid in the tree, bounded. */
  pids(max: number): number[] {
    let names: string[];
    try {
      names = readdirSync(this.root);
    } catch {
      return [];
    }
    const out: number[] = [];
    for (const n of names) {
      if (!/^\d+$/.test(n)) continue;
      out.push(Number(n));
      if (out.length >= max) break;
    }
    return out.sort((a, b) => a - b);
  }

  /** Thread ids of a process (its /proc/<pid>/task entries). */
  tasks(pid: number, max: number): number[] | undefined {
    let names: string[];
    try {
      names = readdirSync(join(this.pidDir(pid), 'task'));
    } catch {
      return undefined;
    }
    const out: number[] = [];
    for (const n of names) {
      if (/^\d+$/.test(n)) out.push(Number(n));
      if (out.length >= max) break;
    }
    return out;
  }
}

/** Reads at most maxBytes of a file (procfs files report size 0, so stat cannot bound them). */
export function readBounded(path: string, maxBytes: number): string | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return undefined;
  }
  try {
    const chunks: Buffer[] = [];
    let total = 0;
    while (total < maxBytes) {
      const buf = Buffer.allocUnsafe(Math.min(64 * 1024, maxBytes - total));
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n <= 0) break;
      chunks.push(buf.subarray(0, n));
      total += n;
    }
    return Buffer.concat(chunks).toString('utf8');
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

let passwdCache: Map<number, string> | undefined;

/** The user name of a uid from /etc/passwd (no NSS lookups: good enough to label a listing). */
export function userName(uid: number): string | undefined {
  if (passwdCache === undefined) {
    passwdCache = new Map();
    let text = '';
    try {
      text = readFileSync('/etc/passwd', 'utf8').slice(0, 4 * 1024 * 1024);
    } catch {
      /* no passwd: numeric uids only */
    }
    for (const line of text.split('\n')) {
      const f = line.split(':');
      if (f.length >= 3 && /^\d+$/.test(f[2]!) && !passwdCache.has(Number(f[2]))) passwdCache.set(Number(f[2]), f[0]!);
    }
  }
  return passwdCache.get(uid);
}
