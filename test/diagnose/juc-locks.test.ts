// A java.util.concurrent lock cycle (fixtures/java-locks/LockCycle.java, captured with jstack -l):
// found from `parking to wait for` against `Locked ownable synchronizers` alone, with the JVM's
// deadlock section cut, and reported once (not twice) when the section is there.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { analyzeDumps } from '../../src/diagnose/index.js';
import { parseDumpFileSync, parseDumpText } from '../../src/dumps/index.js';
import { requireTool } from '../support/environment.js';

const FIXTURE = fileURLToPath(new URL('../../fixtures/java-locks/', import.meta.url));

function analyzeFile(file: string) {
  const r = parseDumpFileSync(join(FIXTURE, file));
  for (const d of r.dumps) d.node = 'jvm';
  return { dumps: r.dumps, result: analyzeDumps(r.dumps) };
}

describe('java.util.concurrent lock cycle', () => {
  it('is found without the JVM deadlock section', () => {
    const { dumps, result } = analyzeFile('juc-cycle-no-section.txt');
    expect(dumps[0]!.deadlocks).toEqual([]);
    expect(result.verdict).toBe('deadlock');
    expect(result.deadlocks).toHaveLength(1);
    const d = result.deadlocks[0]!;
    expect(d.kind).toBe('java-lock');
    expect(d.jvmReported).toBe(false);
    expect(d.cycle.map((s) => s.thread).sort()).toEqual(['juc-worker-0', 'juc-worker-1', 'juc-worker-2']);
    for (const s of d.cycle) {
      expect(s.evidence.join('\n')).toMatch(
        /parking to wait for <0x[0-9a-f]+> \(a java\.util\.concurrent\.locks\.ReentrantLock\$NonfairSync\)/,
      );
      expect(s.evidence.join('\n')).toMatch(/Locked ownable synchronizers/);
    }
  });

  it('is reported once when the JVM section is present too', () => {
    const { dumps, result } = analyzeFile('juc-cycle-jstack-l.txt');
    expect(dumps[0]!.deadlocks).toHaveLength(1);
    expect(result.deadlocks).toHaveLength(1);
    expect(result.deadlocks[0]!.jvmReported).toBe(true);
    expect(result.deadlocks[0]!.kind).toBe('java-lock');
  });

  const haveJava = requireTool(
    'Java tools (javac, jstack)',
    spawnSync('javac', ['-version']).status === 0 && spawnSync('jstack', ['-h']).status === 0,
    'install a JDK (17 or later)',
  );
  it.skipIf(!haveJava)('is found in a live capture of the program (section cut)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rollcall-juc-'));
    try {
      expect(spawnSync('javac', ['-d', dir, join(FIXTURE, 'LockCycle.java')]).status).toBe(0);
      const child = spawn('java', ['-Xmx32m', '-cp', dir, 'LockCycle', '4'], { stdio: ['ignore', 'pipe', 'inherit'] });
      try {
        await new Promise<void>((resolve, reject) => {
          child.stdout.on('data', (b: Buffer) => (b.toString().includes('ready') ? resolve() : undefined));
          child.once('exit', () => reject(new Error('LockCycle exited early')));
        });
        const text = spawnSync('jstack', ['-l', String(child.pid)], { encoding: 'utf8' }).stdout;
        const cut = text.replace(/^Found one Java-level deadlock:[\s\S]*?^Found \d+ deadlocks?\.\s*$/m, '');
        const dumps = parseDumpText(cut).dumps;
        for (const d of dumps) d.node = 'live';
        expect(dumps[0]!.deadlocks).toEqual([]);
        const result = analyzeDumps(dumps);
        expect(result.verdict).toBe('deadlock');
        expect(result.deadlocks[0]!.cycle).toHaveLength(4);
      } finally {
        child.kill('SIGKILL');
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
