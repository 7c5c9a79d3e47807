// HotSpot's performance-data file, /tmp/hsperfdata_<user>/<pid>: the file jps and jstat read. Its
// presence says "a HotSpot JVM with this pid runs here"; its counters give the main class and
// arguments (sun.rt.javaCommand), the VM's name and version, and whether the attach mechanism is
// enabled (the first character of sun.rt.jvmCapabilities is '0' under -XX:+DisableAttachMechanism).
//
// Layout (HotSpot perfMemory.hpp, format 2.0): a 32-byte prologue — magic CA FE C0 C0, byte order
// (0 big, 1 little endian), major and minor version, accessible flag, used bytes, overflow,
// modification time stamp, offset of the first entry, number of entries — then entries of
// { entry length, name offset, vector length, type, flags, units, variability, data offset } with
// a NUL-terminated name; strings are byte vectors ('B'), counters 64-bit longs ('J').
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The file is normally 32 KiB (-XX:PerfDataMemorySize); refuse to read anything huge. */
export const MAX_PERFDATA_BYTES = 4 * 1024 * 1024;
const MAX_ENTRIES = 20_000;
const PROLOGUE_BYTES = 32;
const ENTRY_HEADER_BYTES = 20;
const MAGIC = 0xcafec0c0;

export type PerfValue = string | bigint;

/** Parses a perf-data buffer into name → value (strings and longs only); throws on a bad file. */
export function parsePerfData(buf: Buffer): Map<string, PerfValue> {
  if (buf.length < PROLOGUE_BYTES || buf.readUInt32BE(0) !== MAGIC) throw new Error('not an hsperfdata file');
  const little = buf[4] === 1;
  const i32 = (o: number): number => (little ? buf.readInt32LE(o) : buf.readInt32BE(o));
  const major = buf[5]!;
  if (major !== 2) throw new Error(`hsperfdata version ${major}.${buf[6]} is not supported`);
  const used = Math.min(i32(8), buf.length);
  const first = i32(24);
  const count = i32(28);
  if (first < PROLOGUE_BYTES || count < 0 || count > MAX_ENTRIES) throw new Error('malformed hsperfdata prologue');
  const out = new Map<string, PerfValue>();
  let o = first;
  for (let k = 0; k < count && o + ENTRY_HEADER_BYTES <= used; k++) {
    const length = i32(o);
    const nameOff = i32(o + 4);
    const vectorLength = i32(o + 8);
    const type = String.fromCharCode(buf[o + 12]!);
    const dataOff = i32(o + 16);
    if (length < ENTRY_HEADER_BYTES || o + length > used) break;
    const nameEnd = buf.indexOf(0, o + nameOff);
    if (nameOff <= 0 || nameEnd < 0 || nameEnd > o + length) break;
    const name = buf.toString('latin1', o + nameOff, nameEnd);
    const data = o + dataOff;
    if (type === 'J' && vectorLength === 0 && data + 8 <= o + length) {
      out.set(name, little ? buf.readBigInt64LE(data) : buf.readBigInt64BE(data));
    } else if (type === 'B' && vectorLength > 0 && data + vectorLength <= o + length) {
      const end = buf.indexOf(0, data);
      out.set(name, buf.toString('utf8', data, end < 0 || end > data + vectorLength ? data + vectorLength : end));
    }
    o += length;
  }
  return out;
}

export interface PerfDataFacts {
  /** `org.example.Main arg…`, or `app.jar arg…` for `java -jar`. */
  javaCommand?: string;
  /** `OpenJDK 64-Bit Server VM 17.0.15+6` */
  vm?: string;
  javaVersion?: string;
  /** false under -XX:+DisableAttachMechanism. */
  attachEnabled?: boolean;
  /** JVM flags and arguments as the launcher recorded them. */
  jvmArgs?: string;
}

export function perfDataFacts(values: Map<string, PerfValue>): PerfDataFacts {
  const str = (k: string): string | undefined => {
    const v = values.get(k);
    return typeof v === 'string' && v.length > 0 ? v : undefined;
  };
  const caps = str('sun.rt.jvmCapabilities');
  const vmName = str('java.property.java.vm.name');
  const vmVersion = str('java.property.java.vm.version');
  const flags = [str('java.rt.vmFlags'), str('java.rt.vmArgs')].filter((s) => s !== undefined && s.trim() !== '');
  return {
    ...(str('sun.rt.javaCommand') !== undefined ? { javaCommand: str('sun.rt.javaCommand')! } : {}),
    ...(vmName !== undefined ? { vm: vmVersion !== undefined ? `${vmName} ${vmVersion}` : vmName } : {}),
    ...(str('java.property.java.version') !== undefined ? { javaVersion: str('java.property.java.version')! } : {}),
    ...(caps !== undefined ? { attachEnabled: caps[0] === '1' } : {}),
    ...(flags.length > 0 ? { jvmArgs: flags.join(' ') } : {}),
  };
}

/** Reads and parses one hsperfdata file; undefined when unreadable or malformed. */
export function readPerfData(path: string): PerfDataFacts | undefined {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch {
    return undefined;
  }
  if (buf.length > MAX_PERFDATA_BYTES) return undefined;
  try {
    return perfDataFacts(parsePerfData(buf));
  } catch {
    return undefined;
  }
}

/** An hsperfdata file found for a pid: its path and the user folder it is in. */
export interface PerfDataFile {
  path: string;
  user: string;
}

/**
 * The hsperfdata files under one /tmp, by (namespaced) pid. Folders are world-listable, so this
 * finds other users' JVMs too; their files are readable only by their owner and root.
 */
export function listPerfDataFiles(tmpDir: string, maxFiles: number): Map<number, PerfDataFile> {
  const out = new Map<number, PerfDataFile>();
  let dirs: string[];
  try {
    dirs = readdirSync(tmpDir).filter((d) => d.startsWith('hsperfdata_'));
  } catch {
    return out;
  }
  for (const d of dirs) {
    let files: string[];
    try {
      files = readdirSync(join(tmpDir, d));
    } catch {
      continue;
    }
    for (const f of files) {
      if (!/^\d+$/.test(f)) continue;
      out.set(Number(f), { path: join(tmpDir, d, f), user: d.slice('hsperfdata_'.length) });
      if (out.size >= maxFiles) return out;
    }
  }
  return out;
}
