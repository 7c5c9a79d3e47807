// Per-thread CPU taken beside a dump: capture reads /proc/<pid>/task/*/stat of a local JVM at the
// same instant as its dump and stores it next to it (`<node>/<round>.cpu.json`). Reading a bundle
// attaches it to the dump's threads, matched by native thread id (jstack's nid is the Linux tid as
// the JVM sees it), so analysis can tell a thread that burns CPU on one stack (running-stuck or
// hot) from one that progresses, also for JVMs whose dumps print no `cpu=` (JDK 8).
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import type { ProcessDump } from './model.js';

export const CPU_SAMPLE_VERSION = 'rollcall-cpu/1';
/** A sample of 100,000 threads is ~6 MB; refuse anything much larger. */
export const MAX_CPU_SAMPLE_BYTES = 16 * 1024 * 1024;

export interface ThreadCpu {
  /** Native thread id as the JVM sees it (the dump's nid). */
  nid: number;
  /** The kernel's state letter: R running, S sleeping, D disk wait, Z, T… */
  state: string;
  /** utime + stime, in milliseconds (clock-tick resolution: 10 ms at USER_HZ 100). */
  cpuMs: number;
  /** The kernel's thread name (the JVM sets it from the Java name, cut to 15 bytes). */
  name?: string;
}

export interface ThreadCpuSample {
  version: typeof CPU_SAMPLE_VERSION;
  pid: number;
  /** Epoch ms (fractional, capture's clock) when reading began, and how long it took. */
  atMs: number;
  durationMs: number;
  /** Units of utime/stime in /proc (USER_HZ). */
  ticksPerSecond: number;
  threads: ThreadCpu[];
  /** More threads than the sampler's bound: the rest were not read. */
  truncated?: boolean;
}

/** A ThreadCpuSample as JSON (a sidecar file, or an agent's answer). */
export const cpuSampleSchema = z.object({
  version: z.literal(CPU_SAMPLE_VERSION),
  pid: z.number().int(),
  atMs: z.number(),
  durationMs: z.number(),
  ticksPerSecond: z.number().positive(),
  threads: z.array(
    z.object({ nid: z.number().int(), state: z.string().max(8), cpuMs: z.number(), name: z.string().optional() }),
  ),
  truncated: z.boolean().optional(),
});

/** Reads a CPU sample file; undefined when absent, too large or not a sample. */
export function readCpuSample(path: string): ThreadCpuSample | undefined {
  let text: string;
  try {
    const buf = readFileSync(path);
    if (buf.length > MAX_CPU_SAMPLE_BYTES) return undefined;
    text = buf.toString('utf8');
  } catch {
    return undefined;
  }
  try {
    const parsed = cpuSampleSchema.safeParse(JSON.parse(text));
    return parsed.success ? (parsed.data as ThreadCpuSample) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Sets cpuMs on the dump's threads from the sample, matched by nid; a thread whose dump already
 * prints `cpu=` keeps it (the JVM measured it inside the same safepoint as the stack, in
 * nanoseconds, where /proc counts 10 ms ticks). Returns how many threads got a value.
 */
export function attachThreadCpu(dump: ProcessDump, sample: ThreadCpuSample): number {
  const byNid = new Map<number, ThreadCpu>();
  for (const t of sample.threads) byNid.set(t.nid, t);
  let attached = 0;
  for (const t of dump.threads) {
    if (t.cpuMs !== undefined) continue;
    const nid = typeof t.nid === 'number' ? t.nid : t.osThreadId;
    const cpu = nid === undefined ? undefined : byNid.get(nid);
    if (cpu === undefined) continue;
    t.cpuMs = cpu.cpuMs;
    attached++;
  }
  return attached;
}

/** `<dir>/<round>.txt` → `<dir>/<round>.cpu.json`; undefined for files not named like a capture. */
export function cpuSidecarOf(dumpFile: string): string | undefined {
  const m = /^(.*[\\/])?(\d+)\.txt$/.exec(dumpFile);
  return m === null ? undefined : `${m[1] ?? ''}${m[2]}.cpu.json`;
}

/**
 * The one post-parse step for CPU: when a capture's dump file has a CPU sample beside it, attach
 * it to the dump. Cheap when there is none (one failed open), and not even looked for when the dump
 * prints `cpu=` for every thread (which it keeps over the sample's).
 */
export function attachCpuSidecar(dump: ProcessDump, dumpFile: string): void {
  const side = cpuSidecarOf(dumpFile);
  if (side === undefined || dump.threads.every((t) => t.cpuMs !== undefined)) return;
  const sample = readCpuSample(side);
  if (sample !== undefined) attachThreadCpu(dump, sample);
}
