// The real dumps in ../shared/dumps (beside the repository): every deadlock the JVM reported is
// found (once), thread counts and samples are right, and the idle HBase handlers are idle.
import { existsSync, readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { analyzeDumps, type AnalysisResult } from '../../src/diagnose/index.js';
import { FrameTable, parseDumpFileSync, type ProcessDump } from '../../src/dumps/index.js';
import { requireTool } from '../support/environment.js';

const DIR = fileURLToPath(new URL('../../../shared/dumps/', import.meta.url));
const have = requireTool('../shared/dumps', existsSync(DIR), `clone rollcall beside the shared folder (${DIR})`);

function load(file: string): { dumps: ProcessDump[]; result: AnalysisResult } {
  const r = parseDumpFileSync(join(DIR, file), { frames: new FrameTable() });
  for (const d of r.dumps) d.node = basename(file);
  return { dumps: r.dumps, result: analyzeDumps(r.dumps, { detail: true }) };
}

describe.skipIf(!have)('../shared/dumps', () => {
  it('01: the Jenkins monitor deadlock, with the request stuck behind it', () => {
    const { result } = load('01-jdk6-jenkins-monitor-deadlock.txt');
    expect(result.verdict).toBe('deadlock');
    expect(result.deadlocks).toHaveLength(1);
    const d = result.deadlocks[0]!;
    expect(d.kind).toBe('java-monitor');
    expect(d.jvmReported).toBe(true);
    const json = JSON.stringify(result.deadlocks);
    expect(json).toContain('doRename : ajp-127.0.0.1-8009-24');
    expect(json).toContain('configSubmit : ajp-127.0.0.1-8009-107');
    expect(d.cycle.map((s) => s.thread)).toHaveLength(2);
    expect(d.blockedBehind.join()).toContain('ajp-127.0.0.1-8009-133');
    for (const s of d.cycle) expect(s.evidence.join('\n')).toMatch(/waiting to lock <0x/);
  });

  it('03: three JMX dumps in one file are three samples of one node', () => {
    const { result } = load('03-jdk6-jmx-format-3-dumps-one-log.txt');
    expect(result.samples).toBe(3);
    expect(result.nodes).toHaveLength(1);
    expect(result.nodes[0]!.threadsPerSample).toEqual([88, 86, 86]);
    expect(result.verdict).not.toBe('deadlock');
    // RMI's connection threads run one executor: `RMI TCP Connection(N)-…` is one pool, with idle
    // threads, not seven one-thread pools of which the JMX dumper's would look exhausted.
    expect(result.verdict).toBe('healthy');
    const rmi = result.pools.filter((p) => p.pool.startsWith('RMI TCP Connection'));
    expect(rmi.map((p) => [p.pool, p.family, p.size])).toEqual([['RMI TCP Connection(N)-127.0.1.', 'executor', 7]]);
  });

  it('06: HBase /stacks — 171 threads, RPC handlers idle in getCallRunner, pools not exhausted', () => {
    const { result } = load('06-hbase2-minicluster-stacks-servlet-format.txt');
    expect(result.nodes[0]!.threadsPerSample).toEqual([171]);
    expect(result.verdict).not.toBe('deadlock');
    const rpc = result.pools.filter((p) => /^RpcServer\.default\./.test(p.pool));
    expect(rpc.length).toBe(2);
    for (const p of rpc) {
      expect(p.exhausted).toBe(false);
      expect(p.idle).toBe(p.size);
      expect(p.size).toBe(3);
    }
    const handlers = result.detail!.threads.filter((t) => /^RpcServer\./.test(t.name));
    expect(handlers.length).toBe(20);
    for (const t of handlers) expect(t.class).toBe('idle');
    const ipc = result.pools.filter((p) => /^IPC Server handler/.test(p.pool));
    expect(ipc.length).toBe(2);
    for (const p of ipc) expect(p.idle).toBe(p.size);
  });

  it('13: exactly the three deadlocks the JVM reports (duplicate thread names kept apart)', () => {
    const { result } = load('13-jdk25-virtual-thread-carriers.txt');
    expect(result.nodes[0]!.threadsPerSample).toEqual([54]);
    expect(result.deadlocks).toHaveLength(3);
    expect(result.deadlocks.every((d) => d.jvmReported && d.kind === 'java-monitor')).toBe(true);
    expect(result.deadlocks.map((d) => d.cycle.length).sort()).toEqual([2, 2, 3]);
  });

  it('every JVM-reported deadlock of every dump is found, and no dump throws', () => {
    for (const file of readdirSync(DIR).filter((f) => !f.endsWith('.md'))) {
      const { dumps, result } = load(file);
      const sections = dumps.flatMap((d) => d.deadlocks);
      for (const s of sections) {
        const names = s.entries.map((e) => e.thread);
        const found = result.deadlocks.some(
          (d) => d.jvmReported && d.cycle.some((step) => step.thread !== undefined && names.includes(step.thread)),
        );
        expect(found, `${file}: JVM deadlock at line ${s.line}`).toBe(true);
      }
      if (sections.length === 0) expect(result.deadlocks, file).toEqual([]);
    }
  });
});
