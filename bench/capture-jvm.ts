// Capture of real local JVMs: N JVMs of T threads each, R rounds at an interval, once through the
// HotSpot attach protocol and once through jcmd, in the same run. Prints per method the captures
// skipped or failed, round skew p50/p99/max (request instants and first bytes) and dump latency
// p50/p99 (request to last byte; request to first byte). Goal for attach on a 2-core machine:
// 0 skipped, skew max ≤ 5 ms, dump p50 ≤ 10 ms.
// usage: node dist/bench/capture-jvm.js [--jvms 20] [--threads 200] [--rounds 10] [--interval-ms 250]
//                                       [--methods attach,jcmd] [--json]
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { captureBundle, type JvmMethod } from '../src/capture/index.js';
import { enterRealtime, type Realtime } from '../src/capture/realtime.js';
import type { BundleManifest } from '../src/dumps/bundle.js';

const GOAL = { skipped: 0, skewMaxMs: 5, dumpP50Ms: 10 };
const JVM_FLAGS = ['-Xmx32m', '-Xss256k', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1'];
const STARTUP_TIMEOUT_MS = 60_000;

const { values } = parseArgs({
  options: {
    jvms: { type: 'string', default: '20' },
    threads: { type: 'string', default: '200' },
    rounds: { type: 'string', default: '10' },
    'interval-ms': { type: 'string', default: '250' },
    methods: { type: 'string', default: 'attach,jcmd' },
    'no-realtime': { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  },
});
const jvmCount = Number(values.jvms);
const threads = Number(values.threads);
const rounds = Number(values.rounds);
const intervalMs = Number(values['interval-ms']);
const methods = values.methods!.split(',') as JvmMethod[];

const SOURCE = `public class BenchSleeper {
  public static void main(String[] a) throws Exception {
    int n = Integer.parseInt(a[0]);
    for (int i = 0; i < n; i++) {
      Thread t = new Thread(() -> { try { Thread.sleep(3_600_000); } catch (InterruptedException e) { } }, "bench-worker-" + i);
      t.setDaemon(true);
      t.start();
    }
    System.out.println("ready");
    while (System.in.read() >= 0) { }
  }
}
`;

function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

const r2 = (x: number): number => Math.round(x * 100) / 100;

interface MethodFigures {
  method: JvmMethod;
  captures: number;
  skipped: number;
  failed: number;
  skewMsP50: number;
  skewMsP99: number;
  skewMsMax: number;
  firstByteSkewMsP50: number;
  firstByteSkewMsP99: number;
  firstByteSkewMsMax: number;
  dumpMsP50: number;
  dumpMsP99: number;
  firstByteMsP50: number;
  firstByteMsP99: number;
}

function figures(method: JvmMethod, m: BundleManifest): MethodFigures {
  const skipped = m.captures.filter((c) => c.error?.startsWith('skipped')).length;
  const failed = m.captures.filter((c) => c.error !== undefined).length - skipped;
  const skews = m.rounds.map((r) => r.skewMs);
  const fb = m.rounds.flatMap((r) => (r.firstByteSkewMs === undefined ? [] : [r.firstByteSkewMs]));
  const ok = m.captures.filter((c) => c.error === undefined && c.requestedAtMs !== undefined);
  const dump = ok.map((c) => c.finishedAt! - c.requestedAtMs!);
  const first = ok.flatMap((c) => (c.firstByteAtMs === undefined ? [] : [c.firstByteAtMs - c.requestedAtMs!]));
  return {
    method,
    captures: m.captures.length,
    skipped,
    failed,
    skewMsP50: r2(percentile(skews, 50)),
    skewMsP99: r2(percentile(skews, 99)),
    skewMsMax: r2(Math.max(...skews)),
    firstByteSkewMsP50: r2(percentile(fb, 50)),
    firstByteSkewMsP99: r2(percentile(fb, 99)),
    firstByteSkewMsMax: r2(Math.max(...fb)),
    dumpMsP50: r2(percentile(dump, 50)),
    dumpMsP99: r2(percentile(dump, 99)),
    firstByteMsP50: r2(percentile(first, 50)),
    firstByteMsP99: r2(percentile(first, 99)),
  };
}

async function startJvms(dir: string): Promise<ChildProcess[]> {
  writeFileSync(join(dir, 'BenchSleeper.java'), SOURCE);
  const javac = spawnSync('javac', ['-d', dir, join(dir, 'BenchSleeper.java')], { encoding: 'utf8' });
  if (javac.status !== 0) throw new Error(`javac failed: ${javac.stderr || javac.error?.message}`);
  const children: ChildProcess[] = [];
  const ready: Promise<void>[] = [];
  for (let i = 0; i < jvmCount; i++) {
    const child = spawn('java', [...JVM_FLAGS, '-cp', dir, 'BenchSleeper', String(threads)], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    children.push(child);
    ready.push(
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('a JVM did not start in time')), STARTUP_TIMEOUT_MS);
        child.stdout!.once('data', () => {
          clearTimeout(timer);
          resolve();
        });
        child.once('exit', (code) => reject(new Error(`a JVM exited with ${code}`)));
      }),
    );
  }
  await Promise.all(ready);
  return children;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'rollcall-bench-capture-jvm-'));
  let children: ChildProcess[] = [];
  let realtime: Realtime | undefined;
  const results: MethodFigures[] = [];
  try {
    process.stderr.write(`starting ${jvmCount} JVMs of ${threads} threads…\n`);
    children = await startJvms(dir);
    const targets = children.map((c, i) => ({ name: `jvm${i}`, kind: 'jvm' as const, spec: String(c.pid) }));
    // As `rollcall capture` does (src/capture/realtime.ts), unless --no-realtime.
    realtime = values['no-realtime'] ? undefined : enterRealtime();
    for (const method of methods) {
      process.stderr.write(`${method}: ${rounds} rounds every ${intervalMs} ms…\n`);
      const m = await captureBundle({
        targets,
        intervalMs,
        count: rounds,
        outDir: join(dir, method),
        jvmMethod: method,
      });
      results.push(figures(method, m));
    }
  } finally {
    realtime?.restore();
    for (const c of children) c.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
  const attach = results.find((r) => r.method === 'attach');
  const report = {
    jvms: jvmCount,
    threadsPerJvm: threads,
    rounds,
    intervalMs,
    realtimeRelease: realtime?.active === true,
    methods: results,
    goal: GOAL,
    ok:
      attach !== undefined &&
      attach.skipped === GOAL.skipped &&
      attach.skewMsMax <= GOAL.skewMaxMs &&
      attach.dumpMsP50 <= GOAL.dumpP50Ms,
  };
  if (values.json) {
    console.log(JSON.stringify(report, null, 2));
    return;
  }
  console.log(
    `${jvmCount} JVMs × ${threads} threads, ${rounds} rounds every ${intervalMs} ms, ` +
      `release ${realtime?.active ? 'under SCHED_FIFO' : `at normal priority${realtime?.reason ? ` (${realtime.reason})` : ''}`}`,
  );
  console.log(
    'method   skipped failed  skew p50/p99/max ms    first-byte skew p50/p99/max   dump p50/p99 ms  first byte p50/p99 ms',
  );
  for (const r of results) {
    console.log(
      `${r.method.padEnd(8)} ${String(r.skipped).padStart(7)} ${String(r.failed).padStart(6)}  ` +
        `${`${r.skewMsP50} / ${r.skewMsP99} / ${r.skewMsMax}`.padEnd(22)} ` +
        `${`${r.firstByteSkewMsP50} / ${r.firstByteSkewMsP99} / ${r.firstByteSkewMsMax}`.padEnd(29)} ` +
        `${`${r.dumpMsP50} / ${r.dumpMsP99}`.padEnd(16)} ${r.firstByteMsP50} / ${r.firstByteMsP99}`,
    );
  }
  console.log(
    `goal (attach): ${GOAL.skipped} skipped, skew max ≤ ${GOAL.skewMaxMs} ms, dump p50 ≤ ${GOAL.dumpP50Ms} ms — ${report.ok ? 'met' : 'not met'}`,
  );
}

main().catch((err: unknown) => {
  console.error(`bench:capture-jvm: ${(err as Error).message}`);
  process.exitCode = 1;
});
