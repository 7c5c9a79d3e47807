// A reproducible corpus of JDK 17 jstack dumps for the parse and analyze benchmarks: NODES × SAMPLES
// dumps of THREADS threads, HBase-like names and stacks (idle handlers, busy and monitor-blocked
// threads), with one planted two-thread monitor deadlock on node 7 so analysis has a cycle to find.
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

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

/** Writes DIR/nodeN/S.txt (a plain bundle folder); returns the bytes written. */
export function generateJstackCorpus(
  dir: string,
  o: { nodes: number; samples: number; threads: number; seed?: number },
): number {
  const { nodes, samples, threads } = o;
  const rnd = rng(o.seed ?? 1);
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

/** The corpus in DIR, generated unless a complete one is there already; returns its bytes. */
export function ensureJstackCorpus(
  dir: string,
  o: { nodes: number; samples: number; threads: number },
  quiet: boolean,
): number {
  if (existsSync(join(dir, '.complete'))) return Number(readFileSync(join(dir, '.complete'), 'utf8'));
  // A corpus made by another generator (the contract's): used as it is, never overwritten.
  if (existsSync(join(dir, 'node0')))
    return readdirSync(dir)
      .filter((n) => n.startsWith('node'))
      .flatMap((n) => readdirSync(join(dir, n)).map((f) => statSync(join(dir, n, f)).size))
      .reduce((a, b) => a + b, 0);
  if (!quiet) process.stderr.write(`generating ${o.nodes} × ${o.samples} × ${o.threads} in ${dir} …\n`);
  return generateJstackCorpus(dir, o);
}
