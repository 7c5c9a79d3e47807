// Soak of `rollcall watch`: memory stays flat over many rounds. A Watcher (as the CLI runs it: metrics,
// flight recorder, alerts) watches N HTTP targets in this process that answer JVM-like jstack dumps
// built to make every unbounded structure grow if there were one: new thread names every round (a
// cached pool's pool-2-thread-N), new frames every round (generated lambda classes), new lock
// addresses, and every few rounds a Java-level deadlock on one target that raises an alert, writes a
// bundle (--keep bounds them) and clears again. The heap after a full GC is sampled every `--every`
// rounds. It is bounded, not constant: the parser's frame table grows with new frames until its
// bound, then starts afresh (window.ts), so the heap is a sawtooth; the figure is the trend, the
// mean of the second half of the samples against the first (after the first, a warm-up).
// usage: node --expose-gc dist/bench/watch-soak.js [--targets 20] [--threads 100] [--rounds 3000]
//                                                  [--interval-ms 50] [--every 250] [--json]
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { FlightRecorder, WatchMetrics, Watcher } from '../src/watch/index.js';

const { values } = parseArgs({
  options: {
    targets: { type: 'string', default: '20' },
    threads: { type: 'string', default: '100' },
    rounds: { type: 'string', default: '3000' },
    'interval-ms': { type: 'string', default: '50' },
    every: { type: 'string', default: '250' },
    json: { type: 'boolean', default: false },
  },
});
const targetCount = Number(values.targets);
const threadCount = Number(values.threads);
const rounds = Number(values.rounds);
const intervalMs = Number(values['interval-ms']);
const every = Number(values.every);
/** A deadlock on target 0 for EPISODE_ROUNDS of every EPISODE_EVERY requests. */
const EPISODE_EVERY = 60;
const EPISODE_ROUNDS = 8;
const KEEP = 3;

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) {
  console.error('bench:watch-soak: run with node --expose-gc (npm run bench:watch-soak does)');
  process.exit(2);
}

const hex = (n: number, width = 16): string => `0x${n.toString(16).padStart(width, '0')}`;

/** Target t's dump at its request number k. */
function dump(t: number, k: number): string {
  const out = ['2026-01-01 00:00:00', 'Full thread dump OpenJDK 64-Bit Server VM (17.0.15+6 mixed mode, sharing):', ''];
  const thread = (name: string, id: number, state: string, head: string, frames: string[]): void => {
    out.push(
      `"${name}" #${id} prio=5 os_prio=0 cpu=${(k * 0.1 + id).toFixed(2)}ms elapsed=${k}.00s tid=${hex(0x7f0000000000 + id)} nid=${hex(id, 1)} ${head}  [0x00007f0000000000]`,
      `   java.lang.Thread.State: ${state}`,
      ...frames.map((f) => `\t${f}`),
      '',
    );
  };
  const idle = Math.floor(threadCount / 2);
  for (let i = 0; i < idle; i++) {
    // A cached pool: threads come and go, so names keep growing.
    const seq = k * 3 + i;
    thread(`pool-2-thread-${seq}`, 100 + i, 'TIMED_WAITING (parking)', 'waiting on condition', [
      'at jdk.internal.misc.Unsafe.park(java.base@17/Native Method)',
      `- parking to wait for  <${hex(0xc0000000 + ((k * 7919 + i) % 0xfffffff))}> (a java.util.concurrent.SynchronousQueue$TransferStack)`,
      'at java.util.concurrent.locks.LockSupport.parkNanos(java.base@17/LockSupport.java:252)',
      'at java.util.concurrent.SynchronousQueue.poll(java.base@17/SynchronousQueue.java:937)',
      'at java.util.concurrent.ThreadPoolExecutor.getTask(java.base@17/ThreadPoolExecutor.java:1061)',
      'at java.util.concurrent.ThreadPoolExecutor.runWorker(java.base@17/ThreadPoolExecutor.java:1122)',
      'at java.util.concurrent.ThreadPoolExecutor$Worker.run(java.base@17/ThreadPoolExecutor.java:635)',
      'at java.lang.Thread.run(java.base@17/Thread.java:833)',
    ]);
  }
  for (let i = idle; i < threadCount; i++) {
    // Busy workers in generated code: new frames every round.
    thread(`worker-${i}`, 100 + i, 'RUNNABLE', 'runnable', [
      `at com.example.Gen$$Lambda$${k * 10 + (i % 10)}/${hex(0x800c00000 + (k * targetCount + t) * 128 + i)}.run(Unknown Source)`,
      `at com.example.Work.step${(k + i) % 7}(Work.java:${10 + ((k + i) % 50)})`,
      'at java.lang.Thread.run(java.base@17/Thread.java:833)',
    ]);
  }
  if (t === 0 && k % EPISODE_EVERY >= EPISODE_EVERY - EPISODE_ROUNDS) {
    const episode = Math.floor(k / EPISODE_EVERY);
    const a = hex(0xd0000000 + episode * 2, 16);
    const b = hex(0xd0000001 + episode * 2, 16);
    for (const [name, id, wait, held] of [
      ['transfer-a', 90, a, b],
      ['transfer-b', 91, b, a],
    ] as const) {
      thread(name, id, 'BLOCKED (on object monitor)', 'waiting for monitor entry', [
        'at com.example.Bank.transfer(Bank.java:42)',
        `- waiting to lock <${wait}> (a com.example.Account)`,
        `- locked <${held}> (a com.example.Account)`,
        'at java.lang.Thread.run(java.base@17/Thread.java:833)',
      ]);
    }
  }
  return out.join('\n') + '\n';
}

interface Sample {
  round: number;
  heapMiB: number;
  rssMiB: number;
  parserRenewals: number;
  alerts: number;
  bundlesOnDisk: number;
}

const mib = (b: number): number => Math.round((b / 1024 / 1024) * 10) / 10;

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'rollcall-bench-watch-soak-'));
  const requests = new Array<number>(targetCount).fill(0);
  const server = http.createServer((req, res) => {
    const t = Number(/^\/(\d+)$/.exec(req.url ?? '')?.[1] ?? -1);
    if (!(t >= 0 && t < targetCount)) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'text/plain' }).end(dump(t, requests[t]!++));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  const metrics = new WatchMetrics({ processMetrics: true });
  const recorder = new FlightRecorder(join(dir, 'rec'), KEEP);
  await recorder.open();
  const samples: Sample[] = [];
  let alerts = 0;
  let analysisMsTotal = 0;
  let processed = 0;
  const w = new Watcher({
    targets: Array.from({ length: targetCount }, (_, t) => ({
      name: `jvm${t}`,
      kind: 'url' as const,
      spec: `http://127.0.0.1:${port}/${t}`,
    })),
    intervalMs,
    count: rounds,
    metrics,
    recorder,
    listener: {
      event: () => void alerts++,
      round: (r) => {
        processed++;
        analysisMsTotal += r.analysisMs;
        if (processed % 100 === 0) void metrics.text();
        if (processed % every !== 0) return;
        gc!();
        const mem = process.memoryUsage();
        samples.push({
          round: processed,
          heapMiB: mib(mem.heapUsed),
          rssMiB: mib(mem.rss),
          parserRenewals: (w as unknown as { parser: { renewals: number } }).parser.renewals,
          alerts,
          bundlesOnDisk: readdirSync(join(dir, 'rec')).filter((e) => !e.startsWith('.')).length,
        });
        if (!values.json) {
          const s = samples[samples.length - 1]!;
          process.stderr.write(
            `round ${s.round}: heap ${s.heapMiB} MiB, rss ${s.rssMiB} MiB, ${s.alerts} alerts, ${s.bundlesOnDisk} bundles kept, parser renewed ${s.parserRenewals}×\n`,
          );
        }
      },
    },
  });
  const started = performance.now();
  const summary = await w.run();
  const wallS = (performance.now() - started) / 1000;
  server.close();
  rmSync(dir, { recursive: true, force: true });
  // The first sample is taken during warm-up (JIT, the report's libraries loaded by the first alert).
  const kept = samples.slice(1);
  const half = Math.floor(kept.length / 2);
  const mean = (xs: Sample[]): number => xs.reduce((a, x) => a + x.heapMiB, 0) / Math.max(1, xs.length);
  const heaps = kept.map((x) => x.heapMiB);
  const report = {
    targets: targetCount,
    threadsPerTarget: threadCount,
    roundsProcessed: summary.rounds,
    roundsSkipped: summary.skipped,
    alerts: summary.alerts,
    wallSeconds: Math.round(wallS),
    analysisMsMean: Math.round((analysisMsTotal / Math.max(1, processed)) * 10) / 10,
    heapMiBMin: Math.min(...heaps),
    heapMiBMax: Math.max(...heaps),
    heapTrendMiB: Math.round((mean(kept.slice(half)) - mean(kept.slice(0, half))) * 10) / 10,
    parserRenewals: samples[samples.length - 1]?.parserRenewals ?? 0,
    samples,
  };
  if (values.json) {
    console.log(JSON.stringify(report, null, 2));
    return;
  }
  console.log(
    `${summary.rounds} rounds (${summary.skipped} skipped while analysis caught up) of ${targetCount} targets × ${threadCount} threads in ${report.wallSeconds} s; ` +
      `${summary.alerts} alerts, ${KEEP} bundles kept; analysis ${report.analysisMsMean} ms per round`,
  );
  console.log(
    `heap after GC over rounds ${kept[0]?.round}–${kept[kept.length - 1]?.round}: ${report.heapMiBMin}–${report.heapMiBMax} MiB ` +
      `(the frame table started afresh ${report.parserRenewals}×); trend, second half vs first: ` +
      `${report.heapTrendMiB >= 0 ? '+' : ''}${report.heapTrendMiB} MiB; rss ${samples[samples.length - 1]?.rssMiB} MiB`,
  );
}

main().catch((err: unknown) => {
  console.error(`bench:watch-soak: ${(err as Error).message}`);
  process.exitCode = 1;
});
