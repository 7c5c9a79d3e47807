// Parser throughput: a generated corpus of NODES × SAMPLES jstack dumps of THREADS threads each
// (JDK 17 form, HBase-like names and stacks), parsed file by file with every result kept, as
// `rollcall analyze` does. Prints MB/s and memory growth against the input size.
// usage: node dist/bench/parse.js [NODES=100] [SAMPLES=6] [THREADS=300] [SEED=1]
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseDumpFileSync, type ParseResult } from '../src/dumps/index.js';
import { generateJstackCorpus } from './corpus.js';

const GOAL_MB_PER_S = 100;
const GOAL_MEMORY_FACTOR = 3;

const [nodes = 100, samples = 6, threads = 300, seed0 = 1] = process.argv.slice(2).map(Number);

function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

function main(): void {
  const dir = mkdtempSync(join(tmpdir(), 'rollcall-bench-parse-'));
  try {
    const bytes = generateJstackCorpus(dir, { nodes, samples, threads, seed: seed0 });
    const files = readdirSync(dir)
      .filter((n) => n.startsWith('node'))
      .flatMap((n) => readdirSync(join(dir, n)).map((f) => join(dir, n, f)));
    gc();
    const before = process.memoryUsage();
    let peakRss = before.rss;
    let peakHeap = before.heapUsed;
    const kept: ParseResult[] = [];
    let threadsParsed = 0;
    let unparsed = 0;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    for (const f of files) {
      const r = parseDumpFileSync(f);
      kept.push(r);
      for (const d of r.dumps) threadsParsed += d.threads.length;
      unparsed += r.unparsedLines;
      if ((kept.length & 15) === 0) {
        const m = process.memoryUsage();
        peakRss = Math.max(peakRss, m.rss);
        peakHeap = Math.max(peakHeap, m.heapUsed);
      }
    }
    const ms = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    const m = process.memoryUsage();
    peakRss = Math.max(peakRss, m.rss);
    peakHeap = Math.max(peakHeap, m.heapUsed);
    gc();
    const retainedHeap = process.memoryUsage().heapUsed - before.heapUsed;
    const mb = bytes / 1e6;
    const mbps = mb / (ms / 1000);
    const rssFactor = (peakRss - before.rss) / bytes;
    console.log(
      JSON.stringify(
        {
          corpus: { nodes, samples, threads, files: files.length, bytes, threadsParsed, unparsedLines: unparsed },
          parseMs: Math.round(ms),
          // CPU time of this process: a fairer figure than wall time on a busy machine.
          cpuMs: Math.round((cpu.user + cpu.system) / 1000),
          mbPerS: Number(mbps.toFixed(1)),
          goalMbPerS: GOAL_MB_PER_S,
          peakRssGrowthMB: Math.round((peakRss - before.rss) / 1e6),
          peakHeapGrowthMB: Math.round((peakHeap - before.heapUsed) / 1e6),
          retainedHeapMB: Math.round(retainedHeap / 1e6),
          memoryVsInput: Number(rssFactor.toFixed(2)),
          goalMemoryVsInput: GOAL_MEMORY_FACTOR,
          ok: mbps >= GOAL_MB_PER_S && rssFactor <= GOAL_MEMORY_FACTOR,
        },
        null,
        2,
      ),
    );
    if (kept.length !== files.length) process.exitCode = 1;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main();
