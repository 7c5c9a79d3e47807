// Parser throughput: a generated corpus of NODES × SAMPLES jstack dumps of THREADS threads each
// (JDK 17 form, HBase-like names and stacks), parsed file by file with every result kept, as
// `rollcall analyze` does. Prints MB/s and memory growth against the input size.
// usage: node dist/bench/parse.js [NODES=100] [SAMPLES=6] [THREADS=300] [SEED=1]
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseDumpFileSync, type ParseResult } from '../src/dumps/index.js';

const GOAL_MB_PER_S = 100;
const GOAL_MEMORY_FACTOR = 3;

const [nodes = 100, samples = 6, threads = 300, seed0 = 1] = process.argv.slice(2).map(Number);

let seed = seed0 >>> 0;
const rnd = (): number => (seed = (seed * 1664525 + 1013904223) >>> 0) / 4294967296;
const hex = (n: number): string => '0x' + n.toString(16).padStart(16, '0');
const J = 'java.base@17.0.15';

const IDLE = [
  `\tat jdk.internal.misc.Unsafe.park(${J}/Native Method)`,
  '\t- parking to wait for  <0x00000000f4cf62b8> (a java.util.concurrent.locks.AbstractQueuedSynchronizer$ConditionObject)',
  `\tat java.util.concurrent.locks.LockSupport.park(${J}/LockSupport.java:341)`,
  `\tat java.util.concurrent.locks.AbstractQueuedSynchronizer$ConditionObject.await(${J}/AbstractQueuedSynchronizer.java:1623)`,
  `\tat java.util.concurrent.LinkedBlockingQueue.take(${J}/LinkedBlockingQueue.java:435)`,
  `\tat java.util.concurrent.ThreadPoolExecutor.getTask(${J}/ThreadPoolExecutor.java:1062)`,
  `\tat java.util.concurrent.ThreadPoolExecutor.runWorker(${J}/ThreadPoolExecutor.java:1122)`,
  `\tat java.util.concurrent.ThreadPoolExecutor$Worker.run(${J}/ThreadPoolExecutor.java:635)`,
  `\tat java.lang.Thread.run(${J}/Thread.java:840)`,
];
const busy = (depth: number): string[] => [
  `\tat java.net.SocketInputStream.socketRead0(${J}/Native Method)`,
  ...Array.from(
    { length: depth },
    (_, i) => `\tat org.apache.hadoop.hbase.regionserver.HRegion.step${i}(HRegion.java:${100 + i})`,
  ),
  '\tat org.apache.hadoop.hbase.ipc.CallRunner.run(CallRunner.java:102)',
  `\tat java.lang.Thread.run(${J}/Thread.java:840)`,
];
const BLOCKED = [
  '\tat org.apache.hadoop.hbase.master.TableStateManager.getTableState(TableStateManager.java:88)',
  '\t- waiting to lock <0x00000000f1cf3470> (a java.lang.Object)',
  '\tat org.apache.hadoop.hbase.master.MasterRpcServices.getTableState(MasterRpcServices.java:1200)',
  '\tat org.apache.hadoop.hbase.ipc.CallRunner.run(CallRunner.java:102)',
  `\tat java.lang.Thread.run(${J}/Thread.java:840)`,
];

function generate(dir: string): number {
  let bytes = 0;
  for (let n = 0; n < nodes; n++) {
    mkdirSync(join(dir, `node${n}`), { recursive: true });
    for (let s = 0; s < samples; s++) {
      const lines = [
        `2026-11-27 09:30:${String(s).padStart(2, '0')}`,
        'Full thread dump OpenJDK 64-Bit Server VM (17.0.15+6-Debian-1deb12u1 mixed mode, sharing):',
        '',
      ];
      for (let t = 0; t < threads; t++) {
        const kind = rnd();
        const name =
          t < 30
            ? `RpcServer.default.FPBQ.Fifo.handler=${t},queue=${t % 3},port=16020`
            : `pool-${1 + (t % 7)}-thread-${t}`;
        const state = kind < 0.7 ? 'WAITING (parking)' : kind < 0.9 ? 'RUNNABLE' : 'BLOCKED (on object monitor)';
        const cond = kind < 0.7 ? 'waiting on condition' : kind < 0.9 ? 'runnable' : 'waiting for monitor entry';
        lines.push(
          `"${name}" #${t + 20} daemon prio=5 os_prio=0 cpu=${(rnd() * 900).toFixed(2)}ms elapsed=${(100 + s).toFixed(2)}s tid=${hex(0x7fabb80c0000 + t * 0x1000)} nid=0x${(0x1a00 + t).toString(16)} ${cond}  [${hex(0x7fabbd900000 + t * 0x1000)}]`,
        );
        lines.push(`   java.lang.Thread.State: ${state}`);
        lines.push(...(kind < 0.7 ? IDLE : kind < 0.9 ? busy(5 + Math.floor(rnd() * 20)) : BLOCKED));
        lines.push('', '   Locked ownable synchronizers:', '\t- None', '');
      }
      lines.push('JNI global refs: 30, weak refs: 0', '');
      const text = lines.join('\n');
      bytes += Buffer.byteLength(text);
      writeFileSync(join(dir, `node${n}`, `${s}.txt`), text);
    }
  }
  return bytes;
}

function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

function main(): void {
  const dir = mkdtempSync(join(tmpdir(), 'rollcall-bench-parse-'));
  try {
    const bytes = generate(dir);
    const files = readdirSync(dir).flatMap((n) => readdirSync(join(dir, n)).map((f) => join(dir, n, f)));
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
