// Timing whole processes, which is what users run: wall time from spawn to exit, peak memory,
// and Node's own floor for the same input — reading every file and finding every newline — so a
// figure can be given as a ratio measured in the same run, on the same (possibly busy) machine.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const CLI = fileURLToPath(new URL('../src/cli/bin.js', import.meta.url));
const RSS_PRELOAD = pathToFileURL(fileURLToPath(new URL('./rss-at-exit.js', import.meta.url))).href;

export interface ProcessFigure {
  ms: number;
  peakRssMiB: number;
  code: number | null;
  stderr: string;
}

/** Runs `node ARGS…` to completion, stdout discarded; wall time and peak RSS of the whole process. */
export function timeNode(args: string[], env: Record<string, string> = {}): ProcessFigure {
  const dir = mkdtempSync(join(tmpdir(), 'rollcall-bench-rss-'));
  const rssFile = join(dir, 'rss');
  try {
    const t0 = performance.now();
    const r = spawnSync(process.execPath, ['--import', RSS_PRELOAD, ...args], {
      stdio: ['ignore', 'ignore', 'pipe'],
      encoding: 'utf8',
      env: { ...process.env, ...env, ROLLCALL_BENCH_RSS_FILE: rssFile },
    });
    const ms = performance.now() - t0;
    let kib = NaN;
    try {
      kib = Number(readFileSync(rssFile, 'utf8'));
    } catch {
      // The process died before its exit handler ran.
    }
    return { ms, peakRssMiB: kib / 1024, code: r.status, stderr: r.stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Wall time of `node ARGS…` with nothing preloaded (for start-up figures). */
export function timeBare(args: string[]): number {
  const t0 = performance.now();
  spawnSync(process.execPath, args, { stdio: 'ignore' });
  return performance.now() - t0;
}

/**
 * Node reading every file of a corpus folder (DIR/nodeN/S.txt) and counting its newlines, as a
 * whole process: the least any tool written in Node can take.
 */
export const FLOOR_SCRIPT =
  'const fs=require("fs"),p=require("path");let n=0;for(const d of fs.readdirSync(process.argv[1]).filter(x=>!x.startsWith(".")))' +
  'for(const f of fs.readdirSync(p.join(process.argv[1],d))){const b=fs.readFileSync(p.join(process.argv[1],d,f));let i=-1;' +
  'while((i=b.indexOf(10,i+1))!==-1)n++}console.log(n)';

/** The same floor for one file. */
export const FILE_FLOOR_SCRIPT =
  'const fs=require("fs");const fd=fs.openSync(process.argv[1]);const b=Buffer.allocUnsafe(1<<24);let n=0,k;' +
  'while((k=fs.readSync(fd,b,0,b.length,null))>0){let i=-1;while((i=b.indexOf(10,i+1))!==-1&&i<k)n++}console.log(n)';

/** The best of `runs` figures (least wall time), the usual answer to noise from other work. */
export function best<T extends { ms: number }>(figures: T[]): T {
  return figures.reduce((a, b) => (b.ms < a.ms ? b : a));
}

/** How busy the machine was: 1-minute load average per core. */
export function load(): string {
  const [one] = loadavg();
  return `load average ${one!.toFixed(2)}`;
}

/** The flags every corpus benchmark takes. */
export interface CorpusArgs {
  json: boolean;
  runs: number;
  nodes: number;
  samples: number;
  threads: number;
}

/** A flag's whole-number value from 1 to `max`, or exit 2 saying so. */
export function wholeArg(name: string, value: string | undefined, max: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > max) {
    console.error(`${name} takes a whole number from 1 to ${max}`);
    process.exit(2);
  }
  return n;
}

/**
 * Parses the common flags (--json --runs --nodes --samples --threads --help) and hands any other
 * to `extra` with a way to take its value; an unknown flag exits 2.
 */
export function corpusArgs(
  argv: string[],
  usage: string,
  extra: (flag: string, value: () => string | undefined) => boolean = () => false,
): CorpusArgs {
  const a: CorpusArgs = { json: false, runs: 3, nodes: 100, samples: 6, threads: 300 };
  for (let i = 0; i < argv.length; i++) {
    const v = argv[i]!;
    const value = (): string | undefined => argv[++i];
    if (v === '--json') a.json = true;
    else if (v === '--runs') a.runs = wholeArg(v, value(), 20);
    else if (v === '--nodes') a.nodes = wholeArg(v, value(), 10_000);
    else if (v === '--samples') a.samples = wholeArg(v, value(), 1000);
    else if (v === '--threads') a.threads = wholeArg(v, value(), 100_000);
    else if (v === '--help') {
      console.log(usage);
      process.exit(0);
    } else if (!extra(v, value)) {
      console.error(`unknown argument ${v}`);
      process.exit(2);
    }
  }
  return a;
}

/** A command's figures: its best run's time, throughput and ratio to the floor; peak memory over all runs. */
export function figures(
  runs: ProcessFigure[],
  mb: number,
  floorMs: number,
): { ms: number; mbPerSecond: number; floorRatio: number; peakRssMiB: number } {
  const b = best(runs);
  return {
    ms: Math.round(b.ms),
    mbPerSecond: Math.round(mb / (b.ms / 1000)),
    floorRatio: Number((b.ms / floorMs).toFixed(2)),
    peakRssMiB: Math.round(Math.max(...runs.map((f) => f.peakRssMiB))),
  };
}
