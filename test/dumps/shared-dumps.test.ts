// Every real dump in ../shared/dumps parses with the thread counts SOURCES.md gives for it, and
// the JVM-reported deadlocks are read.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseDumpFileSync } from '../../src/dumps/index.js';

// CI clones the repository into a fresh folder with shared/ beside it.
const SHARED_DUMPS = fileURLToPath(new URL('../../../shared/dumps/', import.meta.url));

interface Source {
  file: string;
  format: string;
  counts: number[];
}

function sources(): Source[] {
  const md = readFileSync(join(SHARED_DUMPS, 'SOURCES.md'), 'utf8');
  return md
    .split('\n')
    .filter((l) => /^\| \d\d-/.test(l))
    .map((l) => {
      const cells = l.split('|').map((c) => c.trim());
      return { file: cells[1]!, format: cells[3]!, counts: cells[4]!.split(',').map((n) => Number(n.trim())) };
    });
}

describe('shared real-world dumps', () => {
  it('are present beside the repository', () => {
    expect(existsSync(join(SHARED_DUMPS, 'SOURCES.md'))).toBe(true);
    expect(sources().length).toBeGreaterThanOrEqual(9);
  });

  for (const src of existsSync(join(SHARED_DUMPS, 'SOURCES.md')) ? sources() : []) {
    it(`${src.file}: ${src.counts.join(', ')} threads per dump`, () => {
      const r = parseDumpFileSync(join(SHARED_DUMPS, src.file), { keepUnparsed: true });
      expect(r.dumps.map((d) => d.threads.length)).toEqual(src.counts);
      expect(r.errors).toEqual([]);
      expect(r.unparsed).toEqual([]);
      expect(r.parsedLines + r.unparsedLines).toBe(r.totalLines);
      for (const d of r.dumps) {
        for (const t of d.threads) {
          expect(t.name.length > 0 || d.format === 'jcmd-json').toBe(true);
          expect(typeof t.stackKey).toBe('string');
        }
      }
    });
  }

  const parse = (f: string) => parseDumpFileSync(join(SHARED_DUMPS, f));

  it('reads the JDK 6 monitor deadlock of 01', () => {
    const d = parse('01-jdk6-jenkins-monitor-deadlock.txt').dumps[0]!;
    expect(d.format).toBe('jstack');
    expect(d.deadlocks).toHaveLength(1);
    const entries = d.deadlocks[0]!.entries;
    expect(entries).toHaveLength(3);
    expect(entries[0]).toMatchObject({
      thread: 'Handling GET /hudson/job/some_job/ : ajp-127.0.0.1-8009-133',
      lockKind: 'monitor',
      lockAddress: '0x000000049c5f7990',
      lockClassName: 'hudson.model.FreeStyleProject',
      heldBy: 'Handling POST /hudson/job/some_other_job/doRename : ajp-127.0.0.1-8009-24',
    });
    const blocked = d.threads.filter((t) => t.state === 'BLOCKED');
    expect(blocked).toHaveLength(3);
    const first = d.threads[0]!;
    expect(first).toMatchObject({ daemon: true, priority: 10, nid: 0x4745, tid: '0x00002ad443486800' });
    expect(first.javaId).toBeUndefined();
    expect(first.locks[0]).toEqual({
      frame: 0,
      kind: 'waiting-to-lock',
      address: '0x000000049c5f7990',
      className: 'hudson.model.FreeStyleProject',
    });
    expect(first.frames[0]).toMatchObject({
      className: 'hudson.model.AbstractProject',
      method: 'getActions',
      file: 'AbstractProject.java',
      line: 1034,
    });
    // The deadlock section's repeated stacks are not threads.
    expect(d.threads.map((t) => t.name).filter((n) => n.startsWith('Handling'))).toHaveLength(3);
  });

  it('reads the three JDK 25 deadlock sections of 13, with carriers and mounted virtual threads', () => {
    const d = parse('13-jdk25-virtual-thread-carriers.txt').dumps[0]!;
    expect(d.deadlocks.map((x) => x.entries.map((e) => `${e.thread}->${e.heldBy}`))).toEqual([
      ['DeadlockThread-A->DeadlockThread-B', 'DeadlockThread-B->DeadlockThread-A'],
      ['DeadlockCandidate-A->DeadlockCandidate-B', 'DeadlockCandidate-B->DeadlockCandidate-A'],
      [
        'DeadlockThread-A->DeadlockThread-B',
        'DeadlockThread-B->DeadlockThread-C',
        'DeadlockThread-C->DeadlockThread-A',
      ],
    ]);
    const carrier = d.threads.find((t) => t.name === 'ForkJoinPool-1-worker-1')!;
    expect(carrier.carryingVirtualThread).toBe(206);
    expect(carrier.nid).toBeUndefined();
    expect(carrier.state).toBe('RUNNABLE');
    expect(carrier.frames[0]!.text).toBe('jdk.internal.vm.Continuation.run(java.base@25/Continuation.java:251)');
    expect(carrier.mountedVirtualThread?.javaId).toBe(206);
    expect(carrier.mountedVirtualThread?.frames[0]!.method).toBe('lambda$manyVirtualThreadsScenario$1');
    const main = d.threads.find((t) => t.name === 'main')!;
    expect(main).toMatchObject({
      javaId: 3,
      osThreadId: 5891,
      allocatedBytes: 103 * 1024 * 1024,
      definedClasses: 2343,
    });
    expect(main.cpuMs).toBeCloseTo(508.53);
    expect(main.elapsedMs).toBeCloseTo(24440);
  });

  it('reads the three JMX-format dumps of 03 in order, following a thread by id', () => {
    const r = parse('03-jdk6-jmx-format-3-dumps-one-log.txt');
    expect(r.dumps.map((d) => d.format)).toEqual(['jmx', 'jmx', 'jmx']);
    expect(r.dumps.map((d) => d.capturedAtMs)).toEqual([
      Date.UTC(2007, 10, 6, 10, 30, 41),
      Date.UTC(2007, 10, 6, 10, 30, 45),
      Date.UTC(2007, 10, 6, 10, 30, 46),
    ]);
    const t = r.dumps[0]!.threads.find((x) => x.javaId === 3146)!;
    expect(t).toMatchObject({ name: 'JMX server connection timeout 3146', state: 'TIMED_WAITING' });
    expect(t.locks.map((l) => l.kind)).toEqual(['waiting-on', 'locked']);
    const rmi = r.dumps[0]!.threads[0]!;
    expect(rmi.stateDetail).toBe('RUNNABLE (running in native)');
    expect(rmi.ownableSynchronizers).toEqual([
      { address: '166fba', className: 'java.util.concurrent.locks.ReentrantLock$NonfairSync' },
    ]);
  });

  it('reads the HBase /stacks servlet form of 06', () => {
    const d = parse('06-hbase2-minicluster-stacks-servlet-format.txt').dumps[0]!;
    expect(d.format).toBe('hadoop-stacks');
    const h = d.threads.find((t) => t.name === 'RpcServer.default.FPBQ.Fifo.handler=2,queue=0,port=39849')!;
    expect(h).toMatchObject({ javaId: 259, state: 'WAITING', blockedCount: 0, waitedCount: 1 });
    expect(h.waitingOnText).toBe('java.util.concurrent.Semaphore$NonfairSync@1b35ed98');
    expect(h.frames.map((f) => f.method).slice(-2)).toEqual(['getCallRunner', 'run']);
    const handlers = d.threads.filter((t) => t.name.startsWith('RpcServer.') && t.name.includes('handler='));
    expect(new Set(handlers.map((t) => t.stackKey)).size).toBeLessThanOrEqual(3);
  });

  it('reads decimal nids, [osid] and SMR blocks of 10, and JSON containers of 11', () => {
    const d10 = parse('10-jdk21-macos-decimal-nid-smr.txt').dumps[0]!;
    const fin = d10.threads.find((t) => t.name === 'Finalizer')!;
    expect(fin).toMatchObject({ javaId: 10, osThreadId: 25091, nid: 25091, osPriority: 31 });
    expect(d10.jniGlobalRefs).toBe(14);
    const d11 = parse('11-jdk21-jcmd-json-threaddump.json').dumps[0]!;
    expect(d11).toMatchObject({ format: 'jcmd-json', pid: 3862, jvmVersion: '21.0.10+7-LTS' });
    expect(d11.threads.map((t) => t.javaId)).toContain(9);
    expect(d11.threads[0]!.frames[0]).toMatchObject({ module: 'java.base', className: 'java.lang.ref.Reference' });
  });

  it('gives equal stacks equal keys and different stacks different keys', () => {
    const d = parse('07-jdk11-tomcat-cpu-elapsed.txt').dumps[0]!;
    const byKey = new Map<string, string[]>();
    for (const t of d.threads)
      byKey.set(t.stackKey, [...(byKey.get(t.stackKey) ?? []), t.frames.map((f) => f.text).join('|')]);
    for (const texts of byKey.values()) expect(new Set(texts).size).toBe(1);
    const again = parse('07-jdk11-tomcat-cpu-elapsed.txt').dumps[0]!;
    expect(again.threads.map((t) => t.stackKey)).toEqual(d.threads.map((t) => t.stackKey));
  });
});
