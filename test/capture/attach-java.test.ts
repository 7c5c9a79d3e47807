// Native HotSpot attach against real JVMs (the HBase-shaped fixture): five JVMs of ~300 threads
// found by --jvm-match and dumped at 250 ms through the attach protocol, each with per-thread CPU;
// targets that cannot be attached recorded with their reason while the others are captured (and
// never signalled when they are not JVMs); hot threads in analyze; the Capturer API following a
// restarted JVM round by round.
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Capturer, MemorySink } from '../../src/capture/index.js';
import type { BundleManifest, CaptureRecord } from '../../src/dumps/bundle.js';
import { parseDumpFileSync, parseDumpText } from '../../src/dumps/index.js';
import { readCpuSample } from '../../src/dumps/thread-cpu.js';
import { runCli } from '../support/cli.js';
import { alive } from '../support/processes.js';
import { spread, tempDirs, uniqueTag } from './helpers.js';
import { javaForTests, startJavaCluster, startLoneJvm } from '../dumps/java-fixture.js';

const haveJava = javaForTests() && process.platform === 'linux';
const tempDir = tempDirs('rollcall-attach-');

async function capture(args: string[]): Promise<BundleManifest> {
  const r = await runCli(['capture', ...args, '--json']);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as BundleManifest;
}

/** The pid of a process that has exited. */
async function deadPid(): Promise<number> {
  const child = spawn('true');
  await new Promise((r) => child.once('exit', r));
  return child.pid!;
}

describe.skipIf(!haveJava)('HotSpot attach (real JVMs)', () => {
  it('captures 5 JVMs of ~300 threads by --jvm-match, 8 rounds: 40 dumps by attach, each with per-thread CPU', async () => {
    const tag = uniqueTag('attach5');
    const cluster = await startJavaCluster({
      regionServerJvms: 4,
      handlers: 3,
      idleThreads: 285,
      autoStart: false,
      tag,
    });
    try {
      const out = join(tempDir(), 'bundle');
      // 250 ms is what the contract check and the benchmark measure; a test gives a loaded machine room.
      const m = await capture(['--jvm-match', `--tag ${tag}`, '--interval', '1s', '--count', '8', '--out', out]);
      const pids = cluster.processes.map((p) => p.pid).sort();
      expect(m.targets.map((t) => Number(t.spec)).sort()).toEqual(pids);
      expect(m.targets.map((t) => t.name).sort()).toEqual(
        cluster.processes.map((p) => `${p.role === 'master' ? 'HMaster' : 'HRegionServer'}-${p.pid}`).sort(),
      );
      expect(m.captures).toHaveLength(40);
      // None skipped, none failed, every one through the attach protocol.
      expect(m.captures.filter((c) => c.error !== undefined).map((c) => `${c.node}#${c.round}: ${c.error}`)).toEqual(
        [],
      );
      expect(new Set(m.captures.map((c) => c.method))).toEqual(new Set(['attach']));
      for (const c of m.captures) {
        expect(c.requestedAtMs!).toBeGreaterThanOrEqual(c.scheduledAt);
        expect(c.firstByteAtMs!).toBeGreaterThanOrEqual(c.requestedAtMs!);
        expect(c.finishedAt!).toBeGreaterThanOrEqual(c.firstByteAtMs!);
      }
      for (const r of m.rounds) {
        const mine = m.captures.filter((c) => c.round === r.round);
        expect(r.skewMs).toBeCloseTo(spread(mine.map((c) => c.requestedAtMs!)), 2);
        expect(r.firstByteSkewMs!).toBeCloseTo(spread(mine.map((c) => c.firstByteAtMs!)), 2);
      }
      // The dumps are whole `Thread.print -l` output; the CPU sample beside each names its threads' nids.
      for (const c of m.captures.filter((x) => x.round === 0 || x.round === 7)) {
        const parsed = parseDumpFileSync(join(out, c.file!));
        expect(parsed.errors).toEqual([]);
        const dump = parsed.dumps[0]!;
        expect(dump.threads.length).toBeGreaterThan(290);
        expect(dump.threads.map((t) => t.name)).toContain('Attach Listener');
        const sample = readCpuSample(join(out, c.cpuFile!))!;
        expect(sample.pid).toBe(c.pid);
        const nids = new Set(sample.threads.map((t) => t.nid));
        const javaThreads = dump.threads.filter((t) => typeof t.nid === 'number');
        expect(javaThreads.filter((t) => nids.has(t.nid as number)).length).toBe(javaThreads.length);
      }
      // Signalled (once) but never harmed; no trigger file of ours left behind (other test files'
      // jcmd may be attaching to their own JVMs in this same directory meanwhile).
      for (const p of cluster.processes) expect(alive(p.pid)).toBe(true);
      const ours = new Set(cluster.processes.map((p) => `.attach_pid${p.pid}`));
      expect(readdirSync(process.cwd()).filter((f) => ours.has(f))).toEqual([]);

      const analyzed = await runCli(['analyze', out]);
      expect(analyzed.code).toBe(0);
      expect(analyzed.stdout).toMatch(/Hot threads/);
    } finally {
      await cluster.stop();
    }
  });

  it('records why bad targets cannot be attached, never signals a process that is not a JVM, and captures the rest', async () => {
    const good = await startLoneJvm({ tag: uniqueTag('good') });
    const noAttach = await startLoneJvm({ tag: uniqueTag('noattach'), jvmFlags: ['-XX:+DisableAttachMechanism'] });
    const notJava = spawn('sleep', ['120'], { stdio: 'ignore' });
    try {
      const gone = await deadPid();
      const out = join(tempDir(), 'bundle');
      const m = await capture([
        ...['--jvm', `good=${good.pid}`, '--jvm', `notjava=${notJava.pid}`, '--jvm', `gone=${gone}`],
        ...['--jvm', `noattach=${noAttach.pid}`, '--interval', '1s', '--count', '2', '--out', out],
      ]);
      const errors = (node: string): (string | undefined)[] =>
        m.captures.filter((c) => c.node === node).map((c) => c.error);
      expect(errors('good')).toEqual([undefined, undefined]);
      expect(m.captures.filter((c) => c.node === 'good').map((c) => c.method)).toEqual(['attach', 'attach']);
      expect(errors('notjava')).toEqual(
        Array(2).fill(expect.stringMatching(/^pid \d+ \(sleep\) is not a Java process .*not signalled$/)),
      );
      expect(errors('gone')).toEqual(Array(2).fill(`no process with pid ${gone} (dead pid)`));
      expect(errors('noattach')).toEqual(Array(2).fill('attach is disabled in this JVM (-XX:+DisableAttachMechanism)'));
      // SIGQUIT would have ended `sleep`, and made the attach-disabled JVM print a dump on stdout.
      expect(alive(notJava.pid!)).toBe(true);
      expect(alive(noAttach.pid)).toBe(true);
      expect(noAttach.stdout.filter((l) => l.startsWith('Full thread dump'))).toEqual([]);
      // No file for a target that was not captured.
      expect(readdirSync(join(out, 'notjava'))).toEqual([]);

      // jcmd stays available: the same JVM through the JDK tool, recorded as such.
      const viaJcmd = await capture([
        ...['--jvm', `good=${good.pid}`, '--jvm-method', 'jcmd', '--count', '1', '--out', join(tempDir(), 'b')],
      ]);
      expect(viaJcmd.captures.map((c) => [c.method, c.error])).toEqual([['jcmd', undefined]]);
    } finally {
      notJava.kill('SIGKILL');
      await Promise.all([good.stop(), noAttach.stop()]);
    }
  });

  it('shows the threads that burn CPU as hot threads, from dumps taken by attach', async () => {
    const tag = uniqueTag('hot');
    const slow = await startJavaCluster({
      regionServerJvms: 1,
      serversPerJvm: 2,
      handlers: 3,
      mode: 'slow',
      slowMs: 60_000,
      tag,
    });
    try {
      await slow.waitForEvent(/checking backup table on master/, 20_000, 2);
      const out = join(tempDir(), 'bundle');
      await capture(['--jvm', `master=${slow.master.pid}`, '--interval', '500ms', '--count', '4', '--out', out]);
      const r = await runCli(['analyze', out, '--json']);
      expect(r.code).toBe(0);
      const result = JSON.parse(r.stdout) as {
        hotThreads: { node: string; thread: string; cpuMsDelta: number; coreShare: number }[];
      };
      // The two handlers scanning (StoreScanner.next) are the hottest threads of the process.
      const top = result.hotThreads.slice(0, 2);
      expect(top.map((h) => [h.node, h.thread.replace(/=\d+,/, '=N,')])).toEqual([
        ['master', 'RpcServer.default.FPBQ.Fifo.handler=N,queue=0,port=16000'],
        ['master', 'RpcServer.default.FPBQ.Fifo.handler=N,queue=0,port=16000'],
      ]);
      for (const h of top) {
        expect(h.cpuMsDelta).toBeGreaterThan(0);
        expect(h.coreShare).toBeGreaterThan(0);
      }
      const text = await runCli(['analyze', out]);
      expect(text.stdout).toMatch(/Hot threads[^\n]*\n {2}master\/"RpcServer\.default\.FPBQ\.Fifo\.handler=/);
    } finally {
      await slow.stop();
    }
  });

  it('gives watch one round at a time in memory, following a JVM that is restarted', async () => {
    const tag = uniqueTag('restart');
    let jvm = await startLoneJvm({ tag });
    const first = jvm.pid;
    const capturer = new Capturer([{ name: 'svc', kind: 'jvm', spec: String(jvm.pid), match: `svc=--tag ${tag}` }]);
    const sink = new MemorySink();
    const round = async (k: number): Promise<CaptureRecord & { dump?: string }> => {
      const r = await capturer.round(k, Date.now() + 250, sink).done;
      const data = r.outputs.get('svc');
      return { ...r.records[0]!, ...(data !== undefined ? { dump: data.toString('utf8') } : {}) };
    };
    try {
      await capturer.open();
      const r0 = await round(0);
      expect(r0).toMatchObject({ method: 'attach', pid: first });
      expect(parseDumpText(r0.dump!).dumps[0]!.threads.length).toBeGreaterThan(5);
      await jvm.stop();
      const r1 = await round(1);
      expect(r1.dump).toBeUndefined();
      expect(r1.error).toMatch(/dead pid|exited/);
      jvm = await startLoneJvm({ tag });
      // The new JVM is found and attached within a round or two (the first may find its attach
      // listener still starting at the instant).
      let r: CaptureRecord & { dump?: string } = r1;
      for (let k = 2; k < 6 && r.dump === undefined; k++) r = await round(k);
      expect(r).toMatchObject({ method: 'attach', pid: jvm.pid });
      expect(r.error).toBeUndefined();
      expect(r.dump).toMatch(/Full thread dump/);
    } finally {
      await capturer.close();
      await jvm.stop();
    }
  });
});
