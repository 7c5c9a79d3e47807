// What `rollcall watch` costs: the watch process's CPU and memory while it watches N local JVMs
// every interval (the built CLI in its own process, dumps through the HotSpot attach protocol with
// per-thread CPU, as a user runs it), and what each dump costs inside the JVMs:
//   - the stop-the-world pause of each `Thread.print -l`, from the JVMs' own safepoint logs
//     (-Xlog:safepoint: the PrintThreads, PrintJNI and FindDeadlocks operations of one dump);
//   - what an application thread feels: a probe thread in every JVM sleeps 1 ms in a loop and
//     reports each wake-up later than 2 ms; its stalls are compared with a phase without watch.
// usage: node dist/bench/watch.js [--jvms 20] [--threads 200] [--interval-ms 1000] [--seconds 30] [--json]
//                                 [--cpu-prof DIR]  (a V8 CPU profile of the watch process, written to DIR)
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const JVM_FLAGS = ['-Xmx32m', '-Xss256k', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1'];
const STARTUP_TIMEOUT_MS = 90_000;
/** A probe wake-up this late (beyond its 1 ms sleep) is a stall. */
const STALL_US = 2000;
/** Safepoints of one dump follow each other within this; a new PrintThreads starts the next dump. */
const DUMP_OPS = new Set(['PrintThreads', 'PrintJNI', 'FindDeadlocks']);

const { values } = parseArgs({
  options: {
    jvms: { type: 'string', default: '20' },
    threads: { type: 'string', default: '200' },
    'interval-ms': { type: 'string', default: '1000' },
    seconds: { type: 'string', default: '30' },
    json: { type: 'boolean', default: false },
    'cpu-prof': { type: 'string' },
  },
});
const jvmCount = Number(values.jvms);
const threads = Number(values.threads);
const intervalMs = Number(values['interval-ms']);
const phaseMs = Number(values.seconds) * 1000;

const SOURCE = `public class WatchProbe {
  public static void main(String[] a) throws Exception {
    int n = Integer.parseInt(a[0]);
    for (int i = 0; i < n; i++) {
      Thread t = new Thread(() -> { try { Thread.sleep(3_600_000); } catch (InterruptedException e) { } }, "bench-worker-" + i);
      t.setDaemon(true);
      t.start();
    }
    Thread probe = new Thread(() -> {
      while (true) {
        long t0 = System.nanoTime();
        try { Thread.sleep(1); } catch (InterruptedException e) { return; }
        long lateUs = (System.nanoTime() - t0) / 1000 - 1000;
        if (lateUs > ${STALL_US}) System.out.println("stall " + System.currentTimeMillis() + " " + lateUs);
      }
    }, "probe");
    probe.setDaemon(true);
    probe.start();
    System.out.println("ready");
    while (System.in.read() >= 0) { }
  }
}
`;

interface Jvm {
  child: ChildProcess;
  safepointLog: string;
  /** [epoch ms of the wake-up, µs late]. */
  stalls: [number, number][];
}

function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}
const r2 = (x: number): number => Math.round(x * 100) / 100;

async function startJvms(dir: string): Promise<Jvm[]> {
  writeFileSync(join(dir, 'WatchProbe.java'), SOURCE);
  const javac = spawnSync('javac', ['-d', dir, join(dir, 'WatchProbe.java')], { encoding: 'utf8' });
  if (javac.status !== 0) throw new Error(`javac failed: ${javac.stderr || javac.error?.message}`);
  const jvms: Jvm[] = [];
  const ready: Promise<void>[] = [];
  for (let i = 0; i < jvmCount; i++) {
    const safepointLog = join(dir, `safepoint-${i}.log`);
    const child = spawn(
      'java',
      [...JVM_FLAGS, `-Xlog:safepoint:file=${safepointLog}`, '-cp', dir, 'WatchProbe', String(threads)],
      { stdio: ['pipe', 'pipe', 'inherit'] },
    );
    const jvm: Jvm = { child, safepointLog, stalls: [] };
    jvms.push(jvm);
    ready.push(
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('a JVM did not start in time')), STARTUP_TIMEOUT_MS);
        let buf = '';
        child.stdout!.on('data', (c: Buffer) => {
          buf += c.toString();
          let nl;
          while ((nl = buf.indexOf('\n')) >= 0) {
            const line = buf.slice(0, nl);
            buf = buf.slice(nl + 1);
            if (line === 'ready') {
              clearTimeout(timer);
              resolve();
            }
            const m = /^stall (\d+) (\d+)$/.exec(line);
            if (m !== null) jvm.stalls.push([Number(m[1]), Number(m[2])]);
          }
        });
        child.once('exit', (code) => reject(new Error(`a JVM exited with ${code}`)));
      }),
    );
  }
  await Promise.all(ready);
  return jvms;
}

/** Each dump's pause (ms): consecutive PrintThreads/PrintJNI/FindDeadlocks safepoints summed. */
function dumpPauses(log: string): number[] {
  const pauses: number[] = [];
  for (const line of log.split('\n')) {
    const m = /Safepoint "(\w+)".*Total: (\d+) ns/.exec(line);
    if (m === null || !DUMP_OPS.has(m[1]!)) continue;
    const ms = Number(m[2]) / 1e6;
    if (m[1] === 'PrintThreads' || pauses.length === 0) pauses.push(ms);
    else pauses[pauses.length - 1]! += ms;
  }
  return pauses;
}

/** utime + stime of a process, in ms (USER_HZ 100), and its RSS in MiB. */
function processUsage(pid: number): { cpuMs: number; rssMiB: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const cpuMs = (Number(fields[11]) + Number(fields[12])) * 10;
  const rss = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return { cpuMs, rssMiB: Math.round(Number(rss?.[1] ?? 0) / 1024) };
}

function stallFigures(jvms: Jvm[], fromMs: number, toMs: number) {
  const late = jvms.flatMap((j) => j.stalls.filter(([at]) => at >= fromMs && at < toMs).map(([, us]) => us / 1000));
  const seconds = (toMs - fromMs) / 1000;
  return {
    stallsPerJvmPerMinute: r2((late.length / jvms.length / seconds) * 60),
    stallMsP50: r2(percentile(late, 50)),
    stallMsP99: r2(percentile(late, 99)),
    stallMsMax: r2(late.length ? Math.max(...late) : 0),
  };
}

const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'rollcall-bench-watch-'));
  let jvms: Jvm[] = [];
  let watch: ChildProcess | undefined;
  try {
    process.stderr.write(`starting ${jvmCount} JVMs of ${threads} threads (and a probe thread each)…\n`);
    jvms = await startJvms(dir);
    process.stderr.write(`baseline: ${phaseMs / 1000} s without watch…\n`);
    const baseFrom = Date.now();
    await delay(phaseMs);
    const baseTo = Date.now();
    const cli = new URL('../src/cli/bin.js', import.meta.url).pathname;
    const args = [cli, 'watch', ...jvms.map((j, i) => `--jvm=jvm${i}=${j.child.pid}`), '--interval', `${intervalMs}ms`];
    process.stderr.write(`watch: every ${intervalMs} ms for ${phaseMs / 1000} s (after 5 rounds to settle)…\n`);
    const profile = values['cpu-prof'] !== undefined ? ['--cpu-prof', `--cpu-prof-dir=${values['cpu-prof']}`] : [];
    const w = spawn(process.execPath, [...profile, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    watch = w;
    let stderr = '';
    w.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    await delay(5 * intervalMs + 1000);
    const from = Date.now();
    const before = processUsage(w.pid!);
    await delay(phaseMs);
    const after = processUsage(w.pid!);
    const to = Date.now();
    const exited = new Promise((r) => w.once('exit', r));
    w.kill('SIGTERM');
    await exited;
    const failedLines = stderr.split('\n').filter((l) => / not captured /.test(l)).length;
    const pauses = jvms.flatMap((j) => dumpPauses(readFileSync(j.safepointLog, 'utf8')));
    const report = {
      jvms: jvmCount,
      threadsPerJvm: threads + 2,
      intervalMs,
      seconds: phaseMs / 1000,
      watch: {
        cpuPercentOfOneCore: r2(((after.cpuMs - before.cpuMs) / (to - from)) * 100),
        rssMiB: after.rssMiB,
        roundsWithFailedCaptures: failedLines,
      },
      dumpPause: {
        dumps: pauses.length,
        msP50: r2(percentile(pauses, 50)),
        msP99: r2(percentile(pauses, 99)),
        msMax: r2(Math.max(...pauses)),
      },
      probe: { withoutWatch: stallFigures(jvms, baseFrom, baseTo), withWatch: stallFigures(jvms, from, to) },
      loadAverage: readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' '),
    };
    if (values.json) {
      console.log(JSON.stringify(report, null, 2));
      return;
    }
    const p = report.probe;
    console.log(
      `${jvmCount} JVMs × ${threads + 2} threads watched every ${intervalMs} ms for ${phaseMs / 1000} s (load average ${report.loadAverage})`,
    );
    console.log(
      `watch process: ${report.watch.cpuPercentOfOneCore}% of one core, RSS ${report.watch.rssMiB} MiB, ${failedLines} round(s) with a failed capture`,
    );
    console.log(
      `pause per dump inside a JVM (safepoints of Thread.print -l): p50 ${report.dumpPause.msP50} ms, p99 ${report.dumpPause.msP99} ms, max ${report.dumpPause.msMax} ms over ${pauses.length} dumps`,
    );
    for (const [name, f] of [
      ['without watch', p.withoutWatch],
      ['with watch   ', p.withWatch],
    ] as const) {
      console.log(
        `probe thread ${name}: ${f.stallsPerJvmPerMinute} wake-ups >${STALL_US / 1000} ms late per JVM-minute; late by p50 ${f.stallMsP50} / p99 ${f.stallMsP99} / max ${f.stallMsMax} ms`,
      );
    }
  } finally {
    watch?.kill('SIGKILL');
    for (const j of jvms) j.child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(`bench:watch: ${(err as Error).message}`);
  process.exitCode = 1;
});
