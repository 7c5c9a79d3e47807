// `rollcall analyze` benchmark, as users run it: the CLI as a whole process (start-up, parsing on
// worker threads, analysis, JSON out) on a generated bundle of 100 nodes × 6 samples × 300 threads
// of JDK 17 jstack text (~206 MB), beside Node's own floor for the same files (read them, find
// every newline) measured in the same run, and the analysis timed inside one process. Also
// `rollcall parse` of the same 600 files, start-up against `node -e 0`, and with --large a single
// jstack file of about 1 GB. Runs are interleaved and the best of each is kept; the machine's
// load is printed, since other work inflates every figure (the ratios less so).
// usage: npm run bench:analyze -- [--json] [--runs 3] [--large] [--large-mb 1024]
//                                  [--nodes 100] [--samples 6] [--threads 300] [--dir DIR]
import { appendFileSync, existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { ensureJstackCorpus } from './corpus.js';
import {
  best,
  CLI,
  corpusArgs,
  figures,
  FILE_FLOOR_SCRIPT,
  FLOOR_SCRIPT,
  load,
  timeBare,
  timeNode,
  wholeArg,
  type CorpusArgs,
  type ProcessFigure,
} from './process.js';

interface Args extends CorpusArgs {
  large: boolean;
  largeMb: number;
  dir?: string;
  child?: string;
}

/** The goals for the 206 MB corpus (whole process) and for one 1 GB file. */
const GOAL = { floorRatio: 3, ms: 1700, rssMiB: 400, startRatio: 2, largeRssMiB: 600 };

function parseArgs(argv: string[]): Args {
  const more: Omit<Args, keyof CorpusArgs> = { large: false, largeMb: 1024 };
  const common = corpusArgs(
    argv,
    'usage: npm run bench:analyze -- [--json] [--runs 3] [--large] [--large-mb 1024] [--nodes 100] [--samples 6] [--threads 300] [--dir DIR]',
    (flag, value) => {
      if (flag === '--large') more.large = true;
      else if (flag === '--large-mb') more.largeMb = wholeArg(flag, value(), 8192);
      else if (flag === '--dir') more.dir = value();
      else if (flag === '--child') more.child = value();
      else return false;
      return true;
    },
  );
  return { ...common, ...more };
}

/** Child: the CLI's analyze inside this process, output to nowhere; prints its own time. */
async function child(dir: string): Promise<void> {
  const { main } = await import('../src/cli/main.js');
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = (() => true) as typeof process.stdout.write;
  const t0 = performance.now();
  const code = await main(['node', 'rollcall', 'analyze', dir, '--json']);
  const ms = performance.now() - t0;
  process.stdout.write = write;
  process.stderr.write(JSON.stringify({ code, ms }) + '\n');
}

/** The analysis timed inside a fresh process, from the command's start to its end (no start-up). */
function inProcess(dir: string): number {
  const self = fileURLToPath(import.meta.url);
  const r = timeNode([self, '--child', dir]);
  if (r.code !== 0) throw new Error(`in-process analyze failed: ${r.stderr}`);
  return (JSON.parse(r.stderr.trim().split('\n').pop()!) as { ms: number }).ms;
}

function ok(f: ProcessFigure, what: string): ProcessFigure {
  if (f.code !== 0) throw new Error(`${what} failed (exit ${f.code}): ${f.stderr.trim().split('\n')[0]}`);
  return f;
}

function corpusFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((n) => n.startsWith('node'))
    .sort((a, b) => Number(a.slice(4)) - Number(b.slice(4)))
    .flatMap((n) =>
      readdirSync(join(dir, n))
        .sort((a, b) => parseInt(a, 10) - parseInt(b, 10))
        .map((f) => join(dir, n, f)),
    );
}

async function run(): Promise<void> {
  const a = parseArgs(process.argv.slice(2));
  if (a.child !== undefined) return child(a.child);
  const dir = a.dir ?? join(tmpdir(), `rollcall-bench-analyze-${a.nodes}x${a.samples}x${a.threads}`);
  const bytes = ensureJstackCorpus(dir, a, a.json);
  const files = corpusFiles(dir);
  const mb = bytes / 1e6;
  const loadBefore = load();
  const floors: ProcessFigure[] = [];
  const analyzes: ProcessFigure[] = [];
  const parses: ProcessFigure[] = [];
  const inside: number[] = [];
  for (let r = 0; r < a.runs; r++) {
    if (!a.json) process.stderr.write(`run ${r + 1}/${a.runs} …\n`);
    floors.push(ok(timeNode(['-e', FLOOR_SCRIPT, dir]), 'floor'));
    analyzes.push(ok(timeNode([CLI, 'analyze', dir, '--json']), 'rollcall analyze'));
    parses.push(ok(timeNode([CLI, 'parse', ...files]), 'rollcall parse'));
    inside.push(inProcess(dir));
  }
  const start = { node: [] as number[], version: [] as number[], help: [] as number[] };
  for (let r = 0; r < 5; r++) {
    start.node.push(timeBare(['-e', '0']));
    start.version.push(timeBare([CLI, '--version']));
    start.help.push(timeBare([CLI, 'analyze', '--help']));
  }
  const floor = best(floors);
  const nodeStart = Math.min(...start.node);
  const report = {
    corpus: { nodes: a.nodes, samples: a.samples, threads: a.threads, files: files.length, mb: Math.round(mb) },
    floorMs: Math.round(floor.ms),
    analyze: { ...figures(analyzes, mb, floor.ms), inProcessMs: Math.round(Math.min(...inside)) },
    parse: { ...figures(parses, mb, floor.ms), vsAnalyze: Number((best(parses).ms / best(analyzes).ms).toFixed(2)) },
    startup: {
      nodeMs: Math.round(nodeStart),
      versionMs: Math.round(Math.min(...start.version)),
      analyzeHelpMs: Math.round(Math.min(...start.help)),
      versionRatio: Number((Math.min(...start.version) / nodeStart).toFixed(2)),
      analyzeHelpRatio: Number((Math.min(...start.help) / nodeStart).toFixed(2)),
    },
    large: a.large ? large(files, a.largeMb) : undefined,
    load: { before: loadBefore, after: load() },
    goal: GOAL,
  };
  const met =
    report.analyze.floorRatio <= GOAL.floorRatio &&
    report.analyze.ms <= GOAL.ms &&
    report.analyze.peakRssMiB <= GOAL.rssMiB &&
    report.startup.versionRatio <= GOAL.startRatio &&
    report.startup.analyzeHelpRatio <= GOAL.startRatio &&
    report.parse.vsAnalyze <= 1 &&
    (report.large === undefined || report.large.peakRssMiB <= GOAL.largeRssMiB);
  if (a.json) {
    console.log(JSON.stringify({ ...report, met }));
    return;
  }
  const an = report.analyze;
  const pa = report.parse;
  const st = report.startup;
  console.log(
    `corpus: ${a.nodes} nodes × ${a.samples} samples × ${a.threads} threads, ${files.length} files, ${report.corpus.mb} MB; best of ${a.runs} interleaved runs (${report.load.before} before, ${report.load.after} after)`,
  );
  console.log(`  Node floor (read + find newlines, whole process)   ${report.floorMs} ms`);
  console.log(
    `  rollcall analyze DIR --json (whole process)        ${an.ms} ms = ${an.floorRatio}× floor, ${an.mbPerSecond} MB/s, peak RSS ${an.peakRssMiB} MiB   goal ≤ ${GOAL.floorRatio}×, ≤ ${GOAL.ms} ms, ≤ ${GOAL.rssMiB} MiB`,
  );
  console.log(`  analyze timed inside the process (no start-up)     ${an.inProcessMs} ms`);
  console.log(
    `  rollcall parse FILE×${files.length} (whole process)          ${pa.ms} ms = ${pa.floorRatio}× floor, ${pa.mbPerSecond} MB/s, peak RSS ${pa.peakRssMiB} MiB, ${pa.vsAnalyze}× analyze   goal ≤ 1×`,
  );
  console.log(
    `  start-up: node -e 0 ${st.nodeMs} ms; rollcall --version ${st.versionMs} ms = ${st.versionRatio}×; rollcall analyze --help ${st.analyzeHelpMs} ms = ${st.analyzeHelpRatio}×   goal ≤ ${GOAL.startRatio}×`,
  );
  if (report.large !== undefined) {
    const l = report.large;
    console.log(
      `  one ${l.mb} MB file (1 node × ${l.dumps} dumps): floor ${l.floorMs} ms; analyze ${l.ms} ms = ${l.floorRatio}× floor, ${l.mbPerSecond} MB/s, peak RSS ${l.peakRssMiB} MiB   goal ≤ ${GOAL.largeRssMiB} MiB`,
    );
  }
  console.log(`goals ${met ? 'met' : 'NOT met'}`);
}

/** One node's dumps, one after another, in a single file of about `largeMb` MB. */
function large(files: string[], largeMb: number) {
  const file = join(tmpdir(), `rollcall-bench-one-file-${largeMb}mb.txt`);
  const countFile = `${file}.dumps`;
  if (!existsSync(countFile)) {
    rmSync(file, { force: true });
    let bytes = 0;
    let dumps = 0;
    // One node's samples in order, again and again: the same threads seen over many samples.
    for (let i = 0; bytes < largeMb * 1e6; i++, dumps++) {
      const b = readFileSync(files[i % Math.min(files.length, 6)]!);
      appendFileSync(file, b);
      bytes += b.byteLength;
    }
    writeFileSync(countFile, String(dumps));
  }
  const dumps = Number(readFileSync(countFile, 'utf8'));
  const size = statSync(file).size;
  const floor = ok(timeNode(['-e', FILE_FLOOR_SCRIPT, file]), 'file floor');
  const analyze = ok(timeNode([CLI, 'analyze', file, '--json']), 'rollcall analyze FILE');
  return {
    mb: Math.round(size / 1e6),
    dumps,
    floorMs: Math.round(floor.ms),
    ...figures([analyze], size / 1e6, floor.ms),
  };
}

await run();
