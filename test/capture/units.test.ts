// The capture layer's parts that need no JVM: hsperfdata, /proc (on a fake tree: namespaced pids,
// signal masks, another user's process), JVM naming and matching, per-thread CPU and its
// attachment to dumps, hot threads, the bearer token, and the scheduler of instants.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  inspectJvm,
  listJvms,
  mainClassOf,
  matchJvms,
  parseJvmMatcher,
  simpleMainName,
  type DiscoveryContext,
} from '../../src/capture/jvm/discovery.js';
import { parsePerfData, perfDataFacts } from '../../src/capture/jvm/hsperfdata.js';
import { ProcFs } from '../../src/capture/jvm/procfs.js';
import { parseTaskStat, TaskCpuSampler } from '../../src/capture/jvm/task-cpu.js';
import { parseJcmdList, parseRemoteHost } from '../../src/capture/resolve.js';
import { enterRealtime } from '../../src/capture/realtime.js';
import { InstantBatches } from '../../src/capture/scheduler.js';
import { kubectlPlan, sshPlan } from '../../src/capture/sources/process.js';
import { Analyzer } from '../../src/diagnose/index.js';
import { renderHtmlReport } from '../../src/report/html/index.js';
import { analysisJson } from '../../src/report/json.js';
import { renderTerminal } from '../../src/report/terminal.js';
import { parseDumpText } from '../../src/dumps/parse.js';
import { attachCpuSidecar, attachThreadCpu, cpuSidecarOf, type ThreadCpuSample } from '../../src/dumps/thread-cpu.js';
import { adminToken, bearerMatches } from '../../src/substrate/real/http-auth.js';

const dirs: string[] = [];
const servers: net.Server[] = [];
afterAll(() => {
  for (const s of servers) s.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'rollcall-capture-units-'));
  dirs.push(d);
  return d;
}

/** An hsperfdata buffer (format 2.0) holding string and long entries, in either byte order. */
function perfData(entries: Record<string, string | bigint>, little = true): Buffer {
  const parts: Buffer[] = [];
  for (const [name, value] of Object.entries(entries)) {
    const nameBytes = Buffer.from(name + '\0', 'latin1');
    const data = typeof value === 'bigint' ? Buffer.alloc(8) : Buffer.from(value + '\0', 'utf8');
    if (typeof value === 'bigint') {
      if (little) data.writeBigInt64LE(value);
      else data.writeBigInt64BE(value);
    }
    const nameOff = 20;
    const dataOff = (nameOff + nameBytes.length + 7) & ~7;
    const length = (dataOff + data.length + 7) & ~7;
    const e = Buffer.alloc(length);
    const w = (o: number, v: number): void => void (little ? e.writeInt32LE(v, o) : e.writeInt32BE(v, o));
    w(0, length);
    w(4, nameOff);
    w(8, typeof value === 'bigint' ? 0 : data.length);
    e[12] = (typeof value === 'bigint' ? 'J' : 'B').charCodeAt(0);
    w(16, dataOff);
    nameBytes.copy(e, nameOff);
    data.copy(e, dataOff);
    parts.push(e);
  }
  const body = Buffer.concat(parts);
  const head = Buffer.alloc(32);
  head.writeUInt32BE(0xcafec0c0, 0);
  head[4] = little ? 1 : 0;
  head[5] = 2;
  head[6] = 0;
  head[7] = 1;
  const w = (o: number, v: number): void => void (little ? head.writeInt32LE(v, o) : head.writeInt32BE(v, o));
  w(8, 32 + body.length);
  w(24, 32);
  w(28, Object.keys(entries).length);
  return Buffer.concat([head, body]);
}

interface FakeProcess {
  pid: number;
  nsPid?: number;
  uid?: number;
  quitCaught?: boolean;
  argv?: string[];
  maps?: string;
  perf?: Buffer;
  perfUser?: string;
  tasks?: { tid: number; nsTid?: number; stat: string }[];
}

/** A /proc tree with the given processes (each with its own root/tmp, as in a container). */
function fakeProc(processes: FakeProcess[]): { proc: ProcFs; root: string } {
  const root = tempDir();
  for (const p of processes) {
    const dir = join(root, String(p.pid));
    mkdirSync(join(dir, 'root', 'tmp'), { recursive: true });
    mkdirSync(join(dir, 'cwd'), { recursive: true });
    const uid = p.uid ?? 1000;
    const nsPids = p.nsPid !== undefined ? `${p.pid}\t${p.nsPid}` : `${p.pid}`;
    writeFileSync(
      join(dir, 'status'),
      `Name:\tjava\nUid:\t${uid}\t${uid}\t${uid}\t${uid}\nGid:\t${uid}\t${uid}\t${uid}\t${uid}\nNSpid:\t${nsPids}\n` +
        `SigIgn:\t0000000000000002\nSigCgt:\t${p.quitCaught === false ? '0000000101005cc9' : '0000000101005ccd'}\n`,
    );
    writeFileSync(join(dir, 'stat'), `${p.pid} (java) S 1${' 0'.repeat(17)} 4242 0 0\n`);
    writeFileSync(join(dir, 'cmdline'), (p.argv ?? ['java', 'org.example.Main']).join('\0') + '\0');
    writeFileSync(join(dir, 'maps'), p.maps ?? '7f00-7f01 r-xp 0 08:01 1 /usr/lib/jvm/java-17/lib/server/libjvm.so\n');
    if (p.perf !== undefined) {
      const d = join(dir, 'root', 'tmp', `hsperfdata_${p.perfUser ?? 'app'}`);
      mkdirSync(d);
      writeFileSync(join(d, String(p.nsPid ?? p.pid)), p.perf);
    }
    for (const t of p.tasks ?? []) {
      const td = join(dir, 'task', String(t.tid));
      mkdirSync(td, { recursive: true });
      writeFileSync(join(td, 'stat'), t.stat);
      // /proc/<tid> exists too, with the thread's own status (NSpid).
      mkdirSync(join(root, String(t.tid)), { recursive: true });
      writeFileSync(
        join(root, String(t.tid), 'status'),
        `Uid:\t${uid}\t${uid}\t${uid}\t${uid}\nGid:\t${uid}\t${uid}\t${uid}\t${uid}\nNSpid:\t${t.tid}\t${t.nsTid ?? t.tid}\n`,
      );
    }
  }
  return { proc: new ProcFs(root), root };
}

const ctx = (proc: ProcFs, euid = 1000): DiscoveryContext => ({
  proc,
  euid,
  tmpDir: join(tempDir(), 'no-tmp'),
  selfPid: 1,
  platform: 'linux',
});

describe('hsperfdata', () => {
  it('reads the main class, VM and whether attach is enabled, in both byte orders', () => {
    for (const little of [true, false]) {
      const values = parsePerfData(
        perfData(
          {
            'sun.rt.createVmBeginTime': 1796397450162n,
            'sun.rt.jvmCapabilities': '1100000000000000000000000000000000000000000000000000000000000000',
            'java.property.java.vm.name': 'OpenJDK 64-Bit Server VM',
            'java.property.java.vm.version': '17.0.15+6',
            'java.property.java.version': '17.0.15',
            'sun.rt.javaCommand': 'org.apache.hadoop.hbase.master.HMaster start',
          },
          little,
        ),
      );
      expect(values.get('sun.rt.createVmBeginTime')).toBe(1796397450162n);
      expect(perfDataFacts(values)).toEqual({
        javaCommand: 'org.apache.hadoop.hbase.master.HMaster start',
        vm: 'OpenJDK 64-Bit Server VM 17.0.15+6',
        javaVersion: '17.0.15',
        attachEnabled: true,
      });
    }
    expect(perfDataFacts(parsePerfData(perfData({ 'sun.rt.jvmCapabilities': '0100' }))).attachEnabled).toBe(false);
    expect(() => parsePerfData(Buffer.from('not perf data at all, not at all'))).toThrow(/not an hsperfdata file/);
  });
});

describe('discovery from /proc', () => {
  it('finds a JVM in a container by its namespaced pid, through the process root', async () => {
    const perf = perfData({
      'sun.rt.javaCommand': 'com.acme.OrderService --port 8080',
      'sun.rt.jvmCapabilities': '11',
    });
    const { proc, root } = fakeProc([{ pid: 4242, nsPid: 7, perf }]);
    // The attach listener is already up: a socket in the container's /tmp.
    const sock = join(root, '4242', 'root', 'tmp', '.java_pid7');
    const server = net.createServer();
    servers.push(server);
    await new Promise<void>((r) => server.listen(sock, r));
    const jvm = inspectJvm(4242, ctx(proc));
    expect(jvm).toMatchObject({
      pid: 4242,
      nsPid: 7,
      uid: 1000,
      user: 'app',
      mainClass: 'com.acme.OrderService',
      command: 'com.acme.OrderService --port 8080',
      kind: 'hotspot',
      attachable: true,
      startTicks: 4242,
      socketPath: sock,
    });
    expect(listJvms(ctx(proc)).map((j) => j.pid)).toEqual([4242]);
  });

  it('says why a process cannot be attached, and never calls a non-JVM a JVM', () => {
    const { proc } = fakeProc([
      { pid: 10, uid: 2000 },
      { pid: 11, perf: perfData({ 'sun.rt.jvmCapabilities': '0100' }) },
      { pid: 12, quitCaught: false },
      { pid: 13, argv: ['java', '-XX:+DisableAttachMechanism', '-jar', '/opt/app.jar'] },
      { pid: 14, maps: '5600-5601 r-xp 0 08:01 1 /usr/bin/python3\n', argv: ['python3', 'x.py'] },
      // A stale hsperfdata file of a dead JVM, and its pid now reused by something else.
      { pid: 15, maps: '5600-5601 r-xp 0 08:01 1 /usr/bin/sleep\n', argv: ['sleep', '100'], perf: perfData({}) },
      { pid: 16, maps: '7f00-7f01 r-xp 0 08:01 1 /opt/openj9/lib/default/libj9vm29.so\n' },
    ]);
    const reason = (pid: number): string | undefined => inspectJvm(pid, ctx(proc)).reason;
    expect(reason(10)).toBe('owned by uid 2000; attach needs that user or root (running as uid 1000)');
    expect(inspectJvm(10, ctx(proc, 0)).attachable).toBe(true);
    expect(reason(11)).toBe('attach is disabled in this JVM (-XX:+DisableAttachMechanism)');
    expect(reason(12)).toMatch(/does not handle SIGQUIT yet .*not signalled/);
    expect(reason(13)).toBe('attach is disabled in this JVM (-XX:+DisableAttachMechanism)');
    expect(inspectJvm(13, ctx(proc)).mainClass).toBe('/opt/app.jar');
    expect(() => inspectJvm(14, ctx(proc))).toThrow(/pid 14 \(java\) is not a Java process .*not signalled/);
    expect(() => inspectJvm(15, ctx(proc))).toThrow(/is not a Java process/);
    expect(reason(16)).toMatch(/OpenJ9/);
    expect(() => inspectJvm(99, ctx(proc))).toThrow('no process with pid 99 (dead pid)');
    expect(() => inspectJvm(10, { ...ctx(proc), platform: 'darwin' })).toThrow(/need Linux/);
    expect(listJvms(ctx(proc)).map((j) => j.pid)).toEqual([10, 11, 12, 13, 16]);
  });

  it('names and matches JVMs', () => {
    expect(mainClassOf(['java', '-Xmx1g', '-cp', 'a:b', '-Dx=1', 'org.X', 'arg'])).toEqual({
      mainClass: 'org.X',
      index: 5,
    });
    expect(mainClassOf(['java', '--module-path', 'm', '-m', 'app/com.acme.Main'])).toEqual({
      mainClass: 'app/com.acme.Main',
      index: 4,
    });
    expect(simpleMainName('org.apache.hadoop.hbase.master.HMaster')).toBe('HMaster');
    expect(simpleMainName('/opt/kafka/libs/kafka.jar')).toBe('kafka');
    expect(simpleMainName('app/com.acme.Main')).toBe('Main');
    const jvms = [
      {
        pid: 1,
        mainClass: 'org.apache.hadoop.hbase.master.HMaster',
        command: 'org.apache.hadoop.hbase.master.HMaster start',
      },
      { pid: 2, mainClass: 'org.apache.hadoop.hbase.regionserver.HRegionServer', command: 'x' },
      { pid: 3, mainClass: 'org.apache.hadoop.hbase.regionserver.HRegionServer', command: 'y --tag blue' },
    ];
    expect(matchJvms(jvms, [parseJvmMatcher('master=HMaster'), parseJvmMatcher('HRegion')]).map((m) => m.name)).toEqual(
      ['master', 'HRegionServer-2', 'HRegionServer-3'],
    );
    expect(matchJvms(jvms, [parseJvmMatcher('rs=HRegion')], '@h1').map((m) => m.name)).toEqual(['rs-2@h1', 'rs-3@h1']);
    expect(matchJvms(jvms, [parseJvmMatcher('tag blue')]).map((m) => m.jvm.pid)).toEqual([3]);
    expect(() => parseJvmMatcher('(')).toThrow(/--jvm-match '\(':/);
    expect(parseJcmdList('4242 org.X a b\n4300 jdk.jcmd/sun.tools.jcmd.JCmd -l\n')).toEqual([
      { pid: 4242, mainClass: 'org.X', command: 'org.X a b' },
    ]);
    expect(parseRemoteHost('--ssh', 'rs1=host.example.com:4242')).toEqual({
      name: 'rs1',
      where: 'host.example.com',
      pid: '4242',
    });
    expect(parseRemoteHost('--kubectl', 'hbase-rs-0@prod')).toEqual({
      name: 'hbase-rs-0@prod',
      where: 'hbase-rs-0@prod',
    });
    expect(() => parseRemoteHost('--ssh', '-oProxyCommand=touch /tmp/x')).toThrow(/--ssh takes/);
  });

  it('runs remote dumps behind a gate on the far side', () => {
    expect(sshPlan('rs1', '42').args).toEqual([
      '-T',
      '-o',
      'BatchMode=yes',
      '-o',
      'ConnectTimeout=10',
      'rs1',
      '--',
      `sh -c 'read _gate || exit 125; exec jcmd 42 Thread.print -l'`,
    ]);
    expect(kubectlPlan('pod-0@ns', '1').args).toEqual([
      'exec',
      '-i',
      'pod-0',
      '-n',
      'ns',
      '--',
      'sh',
      '-c',
      'read _gate || exit 125; exec jcmd 1 Thread.print -l',
    ]);
  });
});

describe('per-thread CPU', () => {
  const stat = (tid: number, name: string, state: string, utime: number, stime: number): string =>
    `${tid} (${name}) ${state} 1 1 1 0 -1 0 0 0 0 0 ${utime} ${stime} 0 0 20 0 1 0 4242 0 0\n`;

  it('parses task stat lines, names with spaces and parentheses included', () => {
    expect(parseTaskStat(stat(7, 'C2 CompilerThre) x', 'R', 120, 30), 7)).toEqual({
      nid: 7,
      state: 'R',
      cpuMs: 1500,
      name: 'C2 CompilerThre) x',
    });
  });

  it('reads every thread at once, with the nids the JVM prints inside a pid namespace', () => {
    const { proc } = fakeProc([
      {
        pid: 500,
        nsPid: 1,
        tasks: [
          { tid: 500, nsTid: 1, stat: stat(500, 'java', 'S', 10, 2) },
          { tid: 501, nsTid: 9, stat: stat(501, 'RpcServer.defau', 'R', 300, 0) },
        ],
      },
    ]);
    const sampler = new TaskCpuSampler(500, 1, proc);
    expect(sampler.refresh()).toBe(true);
    const s = sampler.sample()!;
    sampler.close();
    expect(s.threads).toEqual([
      { nid: 1, state: 'S', cpuMs: 120, name: 'java' },
      { nid: 9, state: 'R', cpuMs: 3000, name: 'RpcServer.defau' },
    ]);
    expect(s).toMatchObject({ version: 'rollcall-cpu/1', pid: 500, ticksPerSecond: 100 });
    expect(new TaskCpuSampler(999, 999, proc).refresh()).toBe(false);
  });

  const jdk8Dump = [
    '2024-03-01 10:00:00',
    'Full thread dump Java HotSpot(TM) 64-Bit Server VM (25.91-b14 mixed mode):',
    '',
    '"worker-1" #12 prio=5 os_prio=0 tid=0x00007f0001 nid=0x9 runnable [0x0]',
    '   java.lang.Thread.State: RUNNABLE',
    '\tat com.acme.Loop.spin(Loop.java:10)',
    '',
    '"worker-2" #13 prio=5 os_prio=0 cpu=5.00ms elapsed=1.00s tid=0x00007f0002 nid=0xa runnable [0x0]',
    '   java.lang.Thread.State: RUNNABLE',
    '\tat com.acme.Loop.spin(Loop.java:10)',
    '',
  ].join('\n');

  it('attaches a sample to dump threads by nid, keeping cpu= the JVM printed itself', () => {
    const dump = parseDumpText(jdk8Dump).dumps[0]!;
    const sample: ThreadCpuSample = {
      version: 'rollcall-cpu/1',
      pid: 1,
      atMs: 0,
      durationMs: 0,
      ticksPerSecond: 100,
      threads: [
        { nid: 9, state: 'R', cpuMs: 840 },
        { nid: 10, state: 'R', cpuMs: 999 },
      ],
    };
    expect(attachThreadCpu(dump, sample)).toBe(1);
    expect(dump.threads.map((t) => t.cpuMs)).toEqual([840, 5]);
    expect(cpuSidecarOf('/b/rs1/3.txt')).toBe('/b/rs1/3.cpu.json');
    expect(cpuSidecarOf('/b/rs1/dump.log')).toBeUndefined();
    const dir = tempDir();
    writeFileSync(join(dir, '0.cpu.json'), JSON.stringify({ ...sample, threads: [{ nid: 9, state: 'R', cpuMs: 1 }] }));
    const again = parseDumpText(jdk8Dump).dumps[0]!;
    attachCpuSidecar(again, join(dir, '0.txt'));
    expect(again.threads[0]!.cpuMs).toBe(1);
    writeFileSync(join(dir, '1.cpu.json'), '{"version":"other"}');
    const third = parseDumpText(jdk8Dump).dumps[0]!;
    attachCpuSidecar(third, join(dir, '1.txt'));
    expect(third.threads[0]!.cpuMs).toBeUndefined();
  });

  it('ranks hot threads by CPU used between their first and last sample, in every report', () => {
    const round = (cpu1: number, cpu2: number) => {
      const d = parseDumpText(jdk8Dump).dumps[0]!;
      d.node = 'rs1';
      d.threads[0]!.cpuMs = cpu1;
      d.threads[1]!.cpuMs = cpu2;
      return [d];
    };
    const rounds = [round(100, 5), round(400, 5), round(600, 5)];
    const a = new Analyzer();
    rounds.forEach((r, k) => a.addRound(r, { capturedAtMs: 1000 + 250 * k }));
    const result = a.finish();
    const hotThreads = result.hotThreads;
    expect(hotThreads).toEqual([{ node: 'rs1', thread: 'worker-1', cpuMsDelta: 500, coreShare: 1 }]);
    // Every report shows them.
    expect(analysisJson(result)['hotThreads']).toEqual(hotThreads);
    expect(renderTerminal(result)).toMatch(/Hot threads.*\n {2}rs1\/"worker-1" 500 ms CPU, 100% of a core/);
    expect(renderHtmlReport(result)).toMatch(/<section id="hot".*worker-1.*500/s);
    expect(renderHtmlReport({ ...result, hotThreads: [] })).not.toMatch(/id="hot"/);
  });
});

describe('admin token', () => {
  it('is hex HMAC-SHA256 of "rollcall admin v1" keyed with the secret, compared in constant time', () => {
    const secret = '0123456789abcdef0123456789abcdef';
    const token = adminToken(Buffer.from(secret));
    expect(token).toBe('564ef1dd8967e3094f594390168be0483fccf8c835d9f290761a389b00dd6820');
    expect(adminToken(secret)).toBe(token);
    expect(bearerMatches(`Bearer ${token}`, token)).toBe(true);
    expect(bearerMatches(`Bearer ${token.toUpperCase()}`, token)).toBe(true);
    expect(bearerMatches(`Bearer ${token.slice(0, -1)}f`, token)).toBe(false);
    expect(bearerMatches(undefined, token)).toBe(false);
    expect(bearerMatches(`Basic ${token}`, token)).toBe(false);
    expect(bearerMatches('Bearer ', token)).toBe(false);
  });
});

describe('instants', () => {
  it('runs the work due before an instant first, then every capture back to back', async () => {
    const batches = new InstantBatches();
    const order: string[] = [];
    const at = Date.now() + 30;
    const a = batches.at(at, () => order.push('fire a'), { costMs: 1, run: () => order.push('before a') });
    const b = batches.at(at, () => order.push('fire b'), { costMs: 1, run: () => order.push('before b') });
    expect(await Promise.all([a, b])).toEqual([true, true]);
    expect(order).toEqual(['before a', 'before b', 'fire a', 'fire b']);
    const stop = new AbortController();
    const cancelled = new InstantBatches(stop.signal).at(Date.now() + 60_000, () => order.push('never'));
    stop.abort();
    expect(await cancelled).toBe(false);
    expect(order).not.toContain('never');
  });
});

describe('real-time release', () => {
  it('runs the main thread under SCHED_FIFO when allowed, and puts it back', () => {
    const policy = (): string => spawnSync('chrt', ['-p', String(process.pid)], { encoding: 'utf8' }).stdout;
    const rt = enterRealtime();
    try {
      if (process.platform === 'linux' && process.getuid?.() === 0) {
        expect(rt.active).toBe(true);
        expect(policy()).toMatch(/SCHED_FIFO/);
      } else {
        expect(rt.active).toBe(false);
        expect(rt.reason).toMatch(/chrt|Linux/);
      }
    } finally {
      rt.restore();
    }
    if (process.platform === 'linux') expect(policy()).toMatch(/SCHED_OTHER/);
  });
});
