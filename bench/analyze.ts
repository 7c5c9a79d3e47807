// `rollcall analyze` benchmark: time and peak memory to analyze a generated bundle of 100 nodes ×
// 6 samples × 300 threads of JDK 17 jstack text (~200 MB), parse included. Goal: ≤ 5 s, ≤ 1 GiB.
// The analysis runs in a fresh child process (the same code path as the CLI), so its peak RSS is
// the analysis's own and not the generator's.
// usage: npm run bench:analyze -- [--json] [--nodes 100] [--samples 6] [--threads 300] [--dir DIR]
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

interface Args {
  json: boolean;
  nodes: number;
  samples: number;
  threads: number;
  dir?: string;
  child?: string;
}

const GOAL_MS = 5000;
const GOAL_RSS_MIB = 1024;

function parseArgs(argv: string[]): Args {
  const a: Args = { json: false, nodes: 100, samples: 6, threads: 300 };
  for (let i = 0; i < argv.length; i++) {
    const v = argv[i];
    const num = (name: string, max: number): number => {
      const n = Number(argv[++i]);
      if (!Number.isInteger(n) || n < 1 || n > max) {
        console.error(`${name} takes a whole number from 1 to ${max}`);
        process.exit(2);
      }
      return n;
    };
    if (v === '--json') a.json = true;
    else if (v === '--nodes') a.nodes = num('--nodes', 10_000);
    else if (v === '--samples') a.samples = num('--samples', 1000);
    else if (v === '--threads') a.threads = num('--threads', 100_000);
    else if (v === '--dir') a.dir = argv[++i];
    else if (v === '--child') a.child = argv[++i];
    else if (v === '--help') {
      console.log('usage: npm run bench:analyze -- [--json] [--nodes 100] [--samples 6] [--threads 300] [--dir DIR]');
      process.exit(0);
    } else {
      console.error(`unknown argument ${v}`);
      process.exit(2);
    }
  }
  return a;
}

/** Deterministic LCG so every run analyzes the same bytes. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (s * 1664525 + 1013904223) >>> 0) / 4294967296;
}

const hex = (n: number) => '0x' + n.toString(16).padStart(16, '0');
const IDLE = [
  '\tat jdk.internal.misc.Unsafe.park(java.base@17.0.15/Native Method)',
  '\t- parking to wait for  <0x00000000f4cf62b8> (a java.util.concurrent.locks.AbstractQueuedSynchronizer$ConditionObject)',
  '\tat java.util.concurrent.locks.LockSupport.park(java.base@17.0.15/LockSupport.java:341)',
  '\tat java.util.concurrent.locks.AbstractQueuedSynchronizer$ConditionObject.await(java.base@17.0.15/AbstractQueuedSynchronizer.java:1623)',
  '\tat java.util.concurrent.LinkedBlockingQueue.take(java.base@17.0.15/LinkedBlockingQueue.java:435)',
  '\tat java.util.concurrent.ThreadPoolExecutor.getTask(java.base@17.0.15/ThreadPoolExecutor.java:1062)',
  '\tat java.util.concurrent.ThreadPoolExecutor.runWorker(java.base@17.0.15/ThreadPoolExecutor.java:1122)',
  '\tat java.util.concurrent.ThreadPoolExecutor$Worker.run(java.base@17.0.15/ThreadPoolExecutor.java:635)',
  '\tat java.lang.Thread.run(java.base@17.0.15/Thread.java:840)',
];
const HANDLER_IDLE = [
  '\tat jdk.internal.misc.Unsafe.park(java.base@17.0.15/Native Method)',
  '\tat java.util.concurrent.Semaphore.acquire(java.base@17.0.15/Semaphore.java:318)',
  '\tat org.apache.hadoop.hbase.ipc.FastPathBalancedQueueRpcExecutor$FastPathHandler.getCallRunner(FastPathBalancedQueueRpcExecutor.java:109)',
  '\tat org.apache.hadoop.hbase.ipc.RpcExecutor$Handler.run(RpcExecutor.java:334)',
];
const busy = (d: number) => [
  '\tat java.util.zip.Inflater.inflateBytesBytes(java.base@17.0.15/Native Method)',
  ...Array.from(
    { length: d },
    (_, i) => `\tat org.apache.hadoop.hbase.regionserver.HRegion.step${i}(HRegion.java:${100 + i})`,
  ),
  '\tat org.apache.hadoop.hbase.ipc.CallRunner.run(CallRunner.java:102)',
  '\tat java.lang.Thread.run(java.base@17.0.15/Thread.java:840)',
];
const blocked = [
  '\tat org.apache.hadoop.hbase.master.TableStateManager.getTableState(TableStateManager.java:88)',
  '\t- waiting to lock <0x00000000f1cf3470> (a java.lang.Object)',
  '\tat org.apache.hadoop.hbase.master.MasterRpcServices.getTableState(MasterRpcServices.java:1200)',
  '\tat org.apache.hadoop.hbase.ipc.CallRunner.run(CallRunner.java:102)',
  '\tat java.lang.Thread.run(java.base@17.0.15/Thread.java:840)',
];
/** Two threads of node 7 deadlock on two monitors, in every sample. */
const deadlock = (me: number) => [
  `\tat org.example.Ledger.transfer${me}(Ledger.java:${40 + me})`,
  `\t- waiting to lock <0x00000000e000000${1 - me}> (a org.example.Account)`,
  `\t- locked <0x00000000e000000${me}> (a org.example.Account)`,
  '\tat java.lang.Thread.run(java.base@17.0.15/Thread.java:840)',
];

/** Writes DIR/nodeN/S.txt (a plain bundle folder) unless already there; returns the bytes written. */
function generate(dir: string, nodes: number, samples: number, threads: number): number {
  const rnd = rng(1);
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
        const k = rnd();
        const handler = t < 30;
        const name = handler
          ? `RpcServer.default.FPBQ.Fifo.handler=${t},queue=${t % 3},port=16020`
          : `pool-${1 + (t % 7)}-thread-${t}`;
        const locked = n === 7 && (t === 40 || t === 41);
        const kind = locked ? 'deadlock' : k < 0.7 ? 'idle' : k < 0.9 ? 'busy' : 'blocked';
        const state =
          kind === 'idle' ? 'WAITING (parking)' : kind === 'busy' ? 'RUNNABLE' : 'BLOCKED (on object monitor)';
        const cond =
          kind === 'idle' ? 'waiting on condition' : kind === 'busy' ? 'runnable' : 'waiting for monitor entry';
        lines.push(
          `"${name}" #${t + 20} daemon prio=5 os_prio=0 cpu=${(rnd() * 900).toFixed(2)}ms elapsed=${(100 + s).toFixed(2)}s tid=${hex(0x7fabb80c0000 + t * 0x1000)} nid=0x${(0x1a00 + t).toString(16)} ${cond}  [${hex(0x7fabbd900000 + t * 0x1000)}]`,
          `   java.lang.Thread.State: ${state}`,
          ...(kind === 'idle'
            ? handler
              ? HANDLER_IDLE
              : IDLE
            : kind === 'busy'
              ? busy(5 + Math.floor(rnd() * 20))
              : kind === 'deadlock'
                ? deadlock(t - 40)
                : blocked),
          '',
          '   Locked ownable synchronizers:',
          '\t- None',
          '',
        );
      }
      lines.push('JNI global refs: 30, weak refs: 0', '');
      const text = lines.join('\n');
      bytes += Buffer.byteLength(text);
      writeFileSync(join(dir, `node${n}`, `${s}.txt`), text);
    }
  }
  writeFileSync(join(dir, '.complete'), String(bytes));
  return bytes;
}

/** Child: run the CLI's analyze in-process, output to nowhere, report its own figures. */
async function child(dir: string): Promise<void> {
  const { main } = await import('../src/cli/main.js');
  const write = process.stdout.write.bind(process.stdout);
  let out = '';
  process.stdout.write = ((s: string | Uint8Array) => {
    out += String(s);
    return true;
  }) as typeof process.stdout.write;
  const t0 = performance.now();
  const code = await main(['node', 'rollcall', 'analyze', dir, '--json']);
  const ms = performance.now() - t0;
  process.stdout.write = write;
  const o = JSON.parse(out) as {
    verdict: string;
    samples: number;
    nodes: unknown[];
    threads: { total: number };
    deadlocks: unknown[];
  };
  const rssMiB = process.resourceUsage().maxRSS / 1024;
  write(
    JSON.stringify({
      code,
      ms,
      rssMiB,
      verdict: o.verdict,
      samples: o.samples,
      nodes: o.nodes.length,
      threads: o.threads.total,
      deadlocks: o.deadlocks.length,
    }) + '\n',
  );
}

async function run(): Promise<void> {
  const a = parseArgs(process.argv.slice(2));
  if (a.child !== undefined) return child(a.child);
  const dir = a.dir ?? join(tmpdir(), `rollcall-bench-analyze-${a.nodes}x${a.samples}x${a.threads}`);
  let bytes: number;
  if (existsSync(join(dir, '.complete')))
    bytes = Number(spawnSync('cat', [join(dir, '.complete')], { encoding: 'utf8' }).stdout);
  else {
    if (!a.json)
      process.stderr.write(`generating ${a.nodes} nodes × ${a.samples} samples × ${a.threads} threads in ${dir} …\n`);
    bytes = generate(dir, a.nodes, a.samples, a.threads);
  }
  const self = fileURLToPath(import.meta.url);
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [self, '--child', dir], { encoding: 'utf8', maxBuffer: 1 << 20 });
  const wallMs = performance.now() - t0;
  if (r.status !== 0) {
    console.error(`analyze failed: ${r.stderr}`);
    process.exit(1);
  }
  const c = JSON.parse(r.stdout) as {
    ms: number;
    rssMiB: number;
    verdict: string;
    samples: number;
    nodes: number;
    threads: number;
    deadlocks: number;
  };
  const mb = bytes / 1e6;
  const report = {
    nodes: a.nodes,
    samples: a.samples,
    threadsPerDump: a.threads,
    inputMB: Math.round(mb),
    wallMs: Math.round(wallMs),
    analyzeMs: Math.round(c.ms),
    peakRssMiB: Math.round(c.rssMiB),
    mbPerSecond: Math.round(mb / (c.ms / 1000)),
    verdict: c.verdict,
    deadlocks: c.deadlocks,
    goal: { ms: GOAL_MS, rssMiB: GOAL_RSS_MIB },
    met: wallMs <= GOAL_MS && c.rssMiB <= GOAL_RSS_MIB,
  };
  if (a.json) {
    console.log(JSON.stringify(report));
    return;
  }
  console.log(
    `analyze ${a.nodes} nodes × ${a.samples} samples × ${a.threads} threads (${report.inputMB} MB, parse included): ` +
      `${(report.wallMs / 1000).toFixed(2)} s wall (${(report.analyzeMs / 1000).toFixed(2)} s in analyze, ${report.mbPerSecond} MB/s), ` +
      `peak RSS ${report.peakRssMiB} MiB — goal ≤ ${GOAL_MS / 1000} s, ≤ ${GOAL_RSS_MIB} MiB: ${report.met ? 'met' : 'NOT met'}`,
  );
  console.log(
    `verdict ${c.verdict}, ${c.deadlocks} deadlock(s), ${c.threads} threads followed over ${c.samples} samples`,
  );
}

await run();
