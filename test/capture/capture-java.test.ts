// Live capture of the HBase-shaped Java fixture with `rollcall capture --jvm`: three JVMs, three
// rounds at 1 s, plus a dead pid and an unreachable URL that must fail alone. Waits for the
// fixture's state are conditions on its live dumps, never sleeps.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.js';
import type { BundleManifest } from '../../src/dumps/bundle.js';
import { FrameTable, parseDumpFileSync, parseDumpText, type ThreadDump } from '../../src/dumps/index.js';
import { REFUSED_URL } from '../support/refused.js';
import { javaForTests, startJavaCluster, type JavaCluster } from '../dumps/java-fixture.js';

const haveJava = javaForTests();
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** The pid of a process that has exited. */
function deadPid(): number {
  return Number(spawnSync('sh', ['-c', 'echo $$'], { encoding: 'utf8' }).stdout.trim());
}

function jstackOf(pid: number): string {
  const r = spawnSync('jcmd', [String(pid), 'Thread.print', '-l'], { encoding: 'utf8' });
  return r.stdout;
}

const handlers = (threads: ThreadDump[]): ThreadDump[] =>
  threads.filter((t) => t.name.startsWith('RpcServer.default.FPBQ.Fifo.handler='));

/** Takes dumps of pid (each takes a few hundred ms) until ready(dump) holds; fails after maxDumps. */
function untilDump(pid: number, ready: (threads: ThreadDump[]) => boolean, what: string, maxDumps = 60): void {
  for (let i = 0; i < maxDumps; i++) {
    const dump = parseDumpText(jstackOf(pid)).dumps[0];
    if (dump !== undefined && ready(dump.threads)) return;
  }
  throw new Error(`no dump of ${pid} showed ${what} after ${maxDumps} dumps`);
}

const innermostHBase = (t: ThreadDump): string => {
  const f = t.frames.find((x) => x.className.startsWith('org.apache.hadoop.hbase'));
  return f === undefined ? '' : `${f.className}.${f.method}`;
};

describe.skipIf(!haveJava)('live JVM capture (Java fixture)', () => {
  it('captures 3 JVMs × 3 rounds at 1 s; a dead pid and an unreachable URL fail alone', async () => {
    const cluster: JavaCluster = await startJavaCluster({ regionServerJvms: 2, handlers: 3 });
    try {
      // Both workers have called back into the master, and every master handler is parked.
      await cluster.waitForEvent(/checking backup table on master/, 20_000, 2);
      untilDump(
        cluster.master.pid,
        (ts) =>
          handlers(ts)
            .map(innermostHBase)
            .filter((f) => f === 'org.apache.hadoop.hbase.ipc.BlockingRpcCallback.get').length === 2,
        'two handlers parked in their nested calls',
      );
      const out = join(mkdtempSync(join(tmpdir(), 'rollcall-java-capture-')), 'bundle');
      dirs.push(join(out, '..'));
      const args = [
        ...cluster.processes.flatMap((p) => ['--jvm', `${p.name}=${p.pid}`]),
        '--jvm',
        `gone=${deadPid()}`,
        '--url',
        `nowhere=${REFUSED_URL}`,
      ];
      let stdout = '';
      const spy = vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => {
        stdout += String(s);
        return true;
      });
      let code: number;
      try {
        code = await main([
          'node',
          'rollcall',
          'capture',
          ...args,
          '--interval',
          '1s',
          '--count',
          '3',
          '--out',
          out,
          '--json',
        ]);
      } finally {
        spy.mockRestore();
      }
      expect(code).toBe(0);
      const m = JSON.parse(stdout) as BundleManifest;
      expect(m.rounds.map((r) => r.scheduledAt - m.rounds[0]!.scheduledAt)).toEqual([0, 1000, 2000]);
      // Each round's skew is the spread of its request instants (how small is the benchmark's concern).
      for (const r of m.rounds) {
        const released = m.captures.filter((c) => c.round === r.round && c.startedAt !== undefined);
        const at = released.map((c) => c.requestedAtMs ?? c.startedAt!);
        expect(r.skewMs).toBeCloseTo(Math.max(...at) - Math.min(...at), 2);
      }
      const ok = m.captures.filter((c) => c.error === undefined);
      expect(ok.map((c) => `${c.node}/${c.round}`).sort()).toEqual(
        ['master', 'rs1', 'rs2'].flatMap((n) => [0, 1, 2].map((r) => `${n}/${r}`)).sort(),
      );
      for (const c of m.captures.filter((x) => x.node !== 'gone')) {
        expect(c.startedAt!).toBeGreaterThanOrEqual(c.scheduledAt);
        expect(c.finishedAt!).toBeGreaterThanOrEqual(c.startedAt!);
      }
      const failed = m.captures.filter((c) => c.error !== undefined);
      expect(failed).toHaveLength(6);
      // Compared as lists so that a failure prints the errors themselves.
      const errorsOf = (node: string): (string | undefined)[] =>
        failed.filter((c) => c.node === node).map((c) => c.error);
      expect(errorsOf('gone')).toEqual(Array(3).fill(expect.stringMatching(/dead pid/)));
      expect(ok.map((c) => c.method)).toEqual(Array(9).fill('attach'));
      expect(errorsOf('nowhere')).toEqual(Array(3).fill(expect.stringMatching(/ECONNREFUSED/)));

      // What the dumps show: every master handler is stuck in the same stack in every round.
      const frames = new FrameTable();
      const masterDumps = ok
        .filter((c) => c.node === 'master')
        .sort((a, b) => a.round - b.round)
        .map((c) => parseDumpFileSync(join(out, c.file!), { frames }));
      for (const r of masterDumps) {
        expect(r.errors).toEqual([]);
        expect(r.unparsedLines).toBe(0);
        expect(r.dumps[0]!.pid).toBe(cluster.master.pid);
      }
      const perRound = masterDumps.map((r) => handlers(r.dumps[0]!.threads));
      for (const hs of perRound) {
        expect(hs.map((t) => t.name)).toEqual(
          [0, 1, 2].map((i) => `RpcServer.default.FPBQ.Fifo.handler=${i},queue=0,port=16000`),
        );
        const tops = hs.map((t) => t.frames.find((f) => f.className.startsWith('org.apache.hadoop.hbase'))!);
        expect(tops.map((f) => `${f.className}.${f.method}`).sort()).toEqual([
          'org.apache.hadoop.hbase.ipc.BlockingRpcCallback.get',
          'org.apache.hadoop.hbase.ipc.BlockingRpcCallback.get',
          'org.apache.hadoop.hbase.procedure.Procedure.waitForLatch',
        ]);
      }
      expect(perRound[1]!.map((t) => t.stackKey)).toEqual(perRound[0]!.map((t) => t.stackKey));
      expect(perRound[2]!.map((t) => t.stackKey)).toEqual(perRound[0]!.map((t) => t.stackKey));
      const rs1 = parseDumpFileSync(join(out, ok.find((c) => c.node === 'rs1')!.file!)).dumps[0]!;
      const pool = rs1.threads.find((t) => t.name === 'rs(rs1,16020,1700000000001)-backup-pool-0')!;
      expect(pool.frames.map((f) => f.method)).toContain('readRegionServerLastLogRollResult');
      expect(pool.state).toBe('WAITING');
    } finally {
      await cluster.stop();
    }
  });

  it('a small cluster completes; the slow variant keeps handlers busy but progressing', async () => {
    const [small, slow] = await Promise.all([
      startJavaCluster({ regionServerJvms: 1, handlers: 3 }),
      startJavaCluster({ regionServerJvms: 1, serversPerJvm: 2, handlers: 3, mode: 'slow', slowMs: 30_000 }),
    ]);
    try {
      await small.waitForEvent(/procedure rolllog completed in \d+ ms/, 20_000);
      await slow.waitForEvent(/checking backup table on master/, 20_000, 2);
      untilDump(
        slow.master.pid,
        (ts) => handlers(ts).filter((t) => t.frames.some((f) => f.className.endsWith('StoreScanner'))).length === 2,
        'two handlers scanning',
      );
      const frames = new FrameTable();
      const samples = [0, 1, 2].map(() =>
        handlers(parseDumpText(jstackOf(slow.master.pid), { frames }).dumps[0]!.threads),
      );
      const busy = samples.map((hs) => hs.filter((t) => t.frames.some((f) => f.className.endsWith('StoreScanner'))));
      expect(busy.map((b) => b.length)).toEqual([2, 2, 2]);
      const keys = busy.flatMap((b) => b.map((t) => t.stackKey + t.state));
      const cpu = busy.map((b) => b.reduce((s, t) => s + (t.cpuMs ?? 0), 0));
      // Progressing: the stacks (depth, sleeping or computing) change between samples and CPU rises.
      expect(new Set(keys).size).toBeGreaterThan(1);
      expect(cpu[2]!).toBeGreaterThan(cpu[0]!);
    } finally {
      await Promise.all([small.stop(), slow.stop()]);
    }
  });
});
