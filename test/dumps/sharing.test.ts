// The parser shares what repeats: a replayed stack's lists are the memo's (an add copies them
// first), and an input's format is read off its first lines when they decide it. Both must give
// exactly what the unshared, whole-head way gives.
import { describe, expect, it } from 'vitest';
import { ThreadRecord } from '../../src/dumps/context.js';
import { FrameTable, detectFormat, parseDumpText, stackKeyOf } from '../../src/dumps/index.js';
import { inputShape } from '../../src/dumps/parse.js';

const T = '\t';

function thread(i: number, frames: readonly string[]): string[] {
  return [
    `"pool-1-thread-${i}" #${20 + i} daemon prio=5 os_prio=0 cpu=1.00ms elapsed=9.00s tid=0x00007f0c5c0d${1000 + i} nid=0x${(0x1a00 + i).toString(16)} waiting on condition  [0x00007f0c2bffe000]`,
    '   java.lang.Thread.State: WAITING (parking)',
    `${T}at jdk.internal.misc.Unsafe.park(java.base@17.0.10/Native Method)`,
    `${T}- parking to wait for  <0x000000062a0b4f10> (a java.util.concurrent.locks.AbstractQueuedSynchronizer$ConditionObject)`,
    ...frames.map((f) => `${T}at ${f}`),
    '',
  ];
}

const POOL_FRAMES = [
  'java.util.concurrent.LinkedBlockingQueue.take(java.base@17.0.10/LinkedBlockingQueue.java:435)',
  'java.util.concurrent.ThreadPoolExecutor.getTask(java.base@17.0.10/ThreadPoolExecutor.java:1062)',
  'java.lang.Thread.run(java.base@17.0.10/Thread.java:840)',
];

describe('shared stacks', () => {
  it('threads with one stack share its lists, and a frame added to one leaves the others as they were', () => {
    const text = [
      'Full thread dump OpenJDK 64-Bit Server VM (17.0.10+7 mixed mode, sharing):',
      '',
      ...[0, 1, 2, 3].flatMap((i) => thread(i, POOL_FRAMES)),
    ].join('\n');
    const frames = new FrameTable();
    const [a, b, c, d] = parseDumpText(text, { frames }).dumps[0]!.threads as ThreadRecord[];
    // The first is recorded and kept at its blank line; the next ones replay it (the last has no
    // blank line after it, so it is parsed line by line).
    expect(b!.frames).toBe(c!.frames);
    expect(b!.locks).toBe(c!.locks);
    expect(d!.frames).not.toBe(c!.frames);
    for (const t of [a!, b!, c!, d!]) {
      expect(t.frames.map((f) => f.text)).toEqual([
        'jdk.internal.misc.Unsafe.park(java.base@17.0.10/Native Method)',
        ...POOL_FRAMES,
      ]);
      expect(t.locks).toHaveLength(1);
      expect(t.ownableSynchronizers).toEqual([]);
    }
    const shared = c!.frames;
    const key = c!.stackKey;
    const extra = frames.intern('com.example.Extra.run(Extra.java:1)');
    b!.addFrame(extra);
    b!.addLock('locked', '0x0000000000000001', 'java.lang.Object');
    b!.addSynchronizer({
      address: '0x0000000000000002',
      className: 'java.util.concurrent.locks.ReentrantLock$NonfairSync',
    });
    b!.finish();
    expect(shared).toHaveLength(4);
    expect(c!.frames).toBe(shared);
    expect(c!.locks).toHaveLength(1);
    expect(c!.ownableSynchronizers).toEqual([]);
    expect(c!.stackKey).toBe(key);
    expect(b!.frames).toHaveLength(5);
    expect(b!.locks).toHaveLength(2);
    expect(b!.ownableSynchronizers).toHaveLength(1);
    expect(b!.stackKey).toBe(stackKeyOf(b!.frames));
    expect(b!.stackKey).not.toBe(key);
  });

  it('a new record starts with shared empty lists that are never written to', () => {
    const frames = new FrameTable();
    const a = new ThreadRecord('a', 1);
    const b = new ThreadRecord('b', 2);
    expect(a.frames).toBe(b.frames);
    a.addFrame(frames.intern('x.Y.z(Y.java:1)'));
    a.addSynchronizer({ address: '0x1', className: 'L' });
    expect(a.frames).toHaveLength(1);
    expect(b.frames).toHaveLength(0);
    expect(b.ownableSynchronizers).toHaveLength(0);
    expect(new ThreadRecord('c', 3).frames).toHaveLength(0);
  });
});

describe('format detection from the first lines', () => {
  const pad = (n: number) => Array.from({ length: n }, (_, i) => `log line ${i} of something else entirely`);
  const jstackHeader = '"main" #1 prio=5 os_prio=0 cpu=1.00ms elapsed=2.00s tid=0x00007f0c5c0286f0 nid=0x1a2b runnable';
  const hadoopHeader = 'Thread 12 (IPC Server handler 0 on 8020):';
  /** Lines up to `at` characters, then a Hadoop header whose `):` ends exactly there, then more of its line. */
  const cutAt = (at: number): string[] => {
    const lines: string[] = [];
    let n = 0;
    while (n + 60 < at - 40) {
      const l = `log line ${lines.length}`.padEnd(59, '.');
      lines.push(l);
      n += l.length + 1;
    }
    const head = 'Thread 12 (';
    lines.push(head + 'x'.repeat(at - n - head.length - 2) + '): and more');
    return lines;
  };
  const cases: [string, string[]][] = [
    [
      'a jstack mark first, a Hadoop one later',
      ['Full thread dump OpenJDK:', '', jstackHeader, ...pad(200), hadoopHeader],
    ],
    ['a Hadoop mark first, a jstack one later', ['Process Thread Dump: x', hadoopHeader, ...pad(200), jstackHeader]],
    ['marks only past the first lines', [...pad(150), hadoopHeader, jstackHeader]],
    ['no mark at all', pad(300)],
    ['a line that looks like a Hadoop header if cut at 4 KiB', [...cutAt(4096), jstackHeader, ...pad(100)]],
    ['JSON', ['{', '  "threadDump": {', ...pad(200).map((l) => `    "${l}": 1,`), '  }', '}']],
  ];
  it('the cut case is cut where meant', () => {
    const text = cutAt(4096).join('\n');
    expect(text.slice(4094, 4096)).toBe('):');
    expect(detectFormat(text.slice(0, 4096))).toBe('hadoop-stacks');
  });
  for (const [name, lines] of cases) {
    it(`decides as detection over the whole head: ${name}`, () => {
      const text = lines.join('\n') + '\n';
      expect(text.length).toBeGreaterThan(4096);
      expect(inputShape(Buffer.from(text, 'latin1')).format).toBe(detectFormat(text));
    });
  }
});

describe('thread records', () => {
  it('write their fields in the declared order, whatever order the rarer ones were set in', () => {
    const t = new ThreadRecord('worker', 7);
    t.rollcall = { pool: 'default' };
    t.blockedCount = 3;
    t.allocatedBytes = 1024;
    t.cpuMs = 1.5;
    t.javaId = 12;
    expect(Object.keys(JSON.parse(JSON.stringify(t)) as object)).toEqual([
      'line',
      'name',
      'javaId',
      'daemon',
      'state',
      'stateDetail',
      'cpuMs',
      'allocatedBytes',
      'blockedCount',
      'frames',
      'stackKey',
      'locks',
      'ownableSynchronizers',
      'rollcall',
    ]);
    // The common fields only: the smaller shape, and unset rare fields read as undefined.
    const plain = new ThreadRecord('idle', 8);
    expect(Object.keys(plain)).not.toContain('blockedCount');
    expect(plain.blockedCount).toBeUndefined();
  });
});
