// Parser benchmark, as users run it: `rollcall parse` of the 600 files of a generated corpus
// (100 nodes × 6 samples × 300 threads of JDK 17 jstack text, ~206 MB) as a whole process, beside
// Node's own floor (read every file, find every newline) in the same run; one thread's parsing
// speed inside a process (what each worker thread does: parse and encode the result); and the
// peak memory of `rollcall parse` on one ~255 MB file against its size. Best of interleaved runs;
// the machine's load is printed, since other work inflates every figure.
// usage: npm run bench:parse -- [--json] [--runs 3] [--nodes 100] [--samples 6] [--threads 300]
import { appendFileSync, existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { FrameTable } from '../src/dumps/frames.js';
import { JobRunner } from '../src/dumps/job.js';
import { ensureJstackCorpus } from './corpus.js';
import {
  best,
  CLI,
  corpusArgs,
  figures,
  FILE_FLOOR_SCRIPT,
  FLOOR_SCRIPT,
  load,
  timeNode,
  type CorpusArgs,
  type ProcessFigure,
} from './process.js';

const ONE_FILE_MB = 255;
const GOAL_MEMORY_VS_INPUT = 1;

function parseArgs(argv: string[]): CorpusArgs {
  return corpusArgs(
    argv,
    'usage: npm run bench:parse -- [--json] [--runs 3] [--nodes 100] [--samples 6] [--threads 300]',
  );
}

function ok(f: ProcessFigure, what: string): ProcessFigure {
  if (f.code !== 0) throw new Error(`${what} failed (exit ${f.code}): ${f.stderr.trim().split('\n')[0]}`);
  return f;
}

/** One thread parsing every file as a worker does (read, parse, encode); CPU time of this thread. */
function oneThread(files: string[]): { ms: number; cpuMs: number; threads: number } {
  const runner = new JobRunner(new FrameTable());
  let threads = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (const path of files) {
    const r = runner.run({ id: 0, path, keepUnparsed: false, maxUnparsedListed: 0 });
    if ('error' in r) throw new Error(`${path}: ${r.error}`);
    for (const d of r.wire.dumps) threads += d.threadCount;
  }
  const cpu = process.cpuUsage(cpu0);
  return { ms: performance.now() - t0, cpuMs: (cpu.user + cpu.system) / 1000, threads };
}

function main(): void {
  const a = parseArgs(process.argv.slice(2));
  const dir = join(tmpdir(), `rollcall-bench-analyze-${a.nodes}x${a.samples}x${a.threads}`);
  const bytes = ensureJstackCorpus(dir, a, a.json);
  const files = readdirSync(dir)
    .filter((n) => n.startsWith('node'))
    .flatMap((n) => readdirSync(join(dir, n)).map((f) => join(dir, n, f)));
  const one = join(tmpdir(), `rollcall-bench-parse-one-${ONE_FILE_MB}mb.txt`);
  if (!existsSync(one) || statSync(one).size < ONE_FILE_MB * 1e6) {
    rmSync(one, { force: true });
    for (let i = 0, n = 0; n < ONE_FILE_MB * 1e6; i++) {
      const b = readFileSync(files[i % files.length]!);
      appendFileSync(one, b);
      n += b.byteLength;
    }
  }
  const oneBytes = statSync(one).size;
  const mb = bytes / 1e6;
  const loadBefore = load();
  const floors: ProcessFigure[] = [];
  const parses: ProcessFigure[] = [];
  const threadFigures: { ms: number; cpuMs: number; threads: number }[] = [];
  for (let r = 0; r < a.runs; r++) {
    if (!a.json) process.stderr.write(`run ${r + 1}/${a.runs} …\n`);
    floors.push(ok(timeNode(['-e', FLOOR_SCRIPT, dir]), 'floor'));
    parses.push(ok(timeNode([CLI, 'parse', ...files]), 'rollcall parse'));
    threadFigures.push(oneThread(files));
  }
  const oneFloor = ok(timeNode(['-e', FILE_FLOOR_SCRIPT, one]), 'file floor');
  const oneParse = ok(timeNode([CLI, 'parse', one]), 'rollcall parse FILE');
  const floor = best(floors);
  const thread = best(threadFigures);
  const report = {
    corpus: { nodes: a.nodes, samples: a.samples, threads: a.threads, files: files.length, mb: Math.round(mb) },
    floorMs: Math.round(floor.ms),
    parse: figures(parses, mb, floor.ms),
    oneThread: {
      ms: Math.round(thread.ms),
      cpuMs: Math.round(thread.cpuMs),
      mbPerCpuSecond: Math.round(mb / (thread.cpuMs / 1000)),
      threadsParsed: thread.threads,
    },
    oneFile: {
      mb: Math.round(oneBytes / 1e6),
      floorMs: Math.round(oneFloor.ms),
      ms: Math.round(oneParse.ms),
      floorRatio: Number((oneParse.ms / oneFloor.ms).toFixed(2)),
      peakRssMiB: Math.round(oneParse.peakRssMiB),
      memoryVsInput: Number(((oneParse.peakRssMiB * 1024 * 1024) / oneBytes).toFixed(2)),
    },
    load: { before: loadBefore, after: load() },
  };
  if (a.json) {
    console.log(JSON.stringify(report));
    return;
  }
  const p = report.parse;
  const t = report.oneThread;
  const o = report.oneFile;
  console.log(
    `corpus: ${files.length} files, ${report.corpus.mb} MB; best of ${a.runs} interleaved runs (${report.load.before} before, ${report.load.after} after)`,
  );
  console.log(`  Node floor (read + find newlines, whole process)   ${report.floorMs} ms`);
  console.log(
    `  rollcall parse FILE×${files.length} (whole process)          ${p.ms} ms = ${p.floorRatio}× floor, ${p.mbPerSecond} MB/s, peak RSS ${p.peakRssMiB} MiB`,
  );
  console.log(
    `  one thread, inside a process (parse + encode)      ${t.ms} ms wall, ${t.cpuMs} ms CPU = ${t.mbPerCpuSecond} MB per CPU-second, ${t.threadsParsed} threads`,
  );
  console.log(
    `  rollcall parse of one ${o.mb} MB file                ${o.ms} ms = ${o.floorRatio}× its floor (${o.floorMs} ms), peak RSS ${o.peakRssMiB} MiB = ${o.memoryVsInput}× the input   goal ≤ ${GOAL_MEMORY_VS_INPUT}×`,
  );
}

main();
