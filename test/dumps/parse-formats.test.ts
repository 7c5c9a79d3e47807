// Format quirks the real dumps in ../shared do not all show: locales, jcmd headers, CRLF, log
// prefixes, several dumps per file, the JDK's own ThreadInfo text, malformed blocks.
import { describe, expect, it } from 'vitest';
import { detectFormat, parseDumpText, parseFrameText } from '../../src/dumps/index.js';
import { parseBytes } from '../../src/dumps/parse.js';

const T = '\t';
const JDK17 = [
  '2024-03-01 10:00:00',
  'Full thread dump OpenJDK 64-Bit Server VM (17.0.10+7 mixed mode, sharing):',
  '',
  'Threads class SMR info:',
  '_java_thread_list=0x00007f0c2c001f20, length=2, elements={',
  '0x00007f0c5c0286f0, 0x00007f0c5c0d6e60',
  '}',
  '',
  '"main" #1 prio=5 os_prio=0 cpu=0,55ms elapsed=12,50s tid=0x00007f0c5c0286f0 nid=0x1a2b waiting on condition  [0x00007f0c63dfe000]',
  '   java.lang.Thread.State: TIMED_WAITING (sleeping)',
  `${T}at java.lang.Thread.sleep(java.base@17.0.10/Native Method)`,
  `${T}at app//com.example.Main.main(Main.java:10)`,
  '',
  '   Locked ownable synchronizers:',
  `${T}- None`,
  '',
  '"pool-1-thread-1" #20 daemon prio=5 os_prio=0 cpu=10.00ms elapsed=12.00s tid=0x00007f0c5c0d6e60 nid=0x1a3c waiting on condition  [0x00007f0c2bffe000]',
  '   java.lang.Thread.State: WAITING (parking)',
  `${T}at jdk.internal.misc.Unsafe.park(java.base@17.0.10/Native Method)`,
  `${T}- parking to wait for  <0x000000062a0b4f10> (a java.util.concurrent.locks.ReentrantLock$NonfairSync)`,
  `${T}at java.util.concurrent.locks.LockSupport.park(java.base@17.0.10/LockSupport.java:211)`,
  `${T}at com.example.Worker.lambda$run$0(Worker.java:33)`,
  `${T}at com.example.Worker$$Lambda$14/0x0000000800c0b000.run(Unknown Source)`,
  '',
  '   Locked ownable synchronizers:',
  `${T}- <0x000000062a0b5020> (a java.util.concurrent.locks.ReentrantLock$NonfairSync)`,
  '',
  '"VM Thread" os_prio=0 cpu=3.21ms elapsed=12.51s tid=0x00007f0c5c0c8a70 nid=0x1a2f runnable  ',
  '',
  'JNI global refs: 9, weak refs: 0',
  '',
];

describe('jstack family', () => {
  it('reads header tokens by name, decimal commas and SMR blocks', () => {
    const r = parseDumpText(JDK17.join('\n'), { keepUnparsed: true });
    expect(r.unparsed).toEqual([]);
    expect(r.format).toBe('jstack');
    const [d] = r.dumps;
    expect(d!.threads).toHaveLength(3);
    const main = d!.threads[0]!;
    expect(main).toMatchObject({ name: 'main', javaId: 1, priority: 5, osPriority: 0, nid: 0x1a2b, daemon: false });
    expect(main.cpuMs).toBeCloseTo(0.55);
    expect(main.elapsedMs).toBeCloseTo(12_500);
    expect(main.state).toBe('TIMED_WAITING');
    expect(main.stateDetail).toBe('TIMED_WAITING (sleeping)');
    expect(main.frames[1]).toMatchObject({ module: 'app/', className: 'com.example.Main', line: 10 });
    const worker = d!.threads[1]!;
    expect(worker.locks).toEqual([
      {
        frame: 0,
        kind: 'parking',
        address: '0x000000062a0b4f10',
        className: 'java.util.concurrent.locks.ReentrantLock$NonfairSync',
      },
    ]);
    expect(worker.ownableSynchronizers).toEqual([
      { address: '0x000000062a0b5020', className: 'java.util.concurrent.locks.ReentrantLock$NonfairSync' },
    ]);
    expect(worker.frames[3]).toMatchObject({
      className: 'com.example.Worker$$Lambda$14/0x0000000800c0b000',
      method: 'run',
    });
    const vm = d!.threads[2]!;
    expect(vm).toMatchObject({ state: 'RUNNABLE', stateDetail: 'runnable' });
    expect(vm.javaId).toBeUndefined();
    expect(d!.jniGlobalRefs).toBe(9);
  });

  it('takes the pid from a leading jcmd line and the version from an indented JDK version line', () => {
    const text = ['4242:', '   JDK version: 17.0.10+7', ...JDK17].join('\n');
    const r = parseDumpText(text, { keepUnparsed: true });
    expect(r.unparsed).toEqual([]);
    expect(r.dumps).toHaveLength(1);
    expect(r.dumps[0]).toMatchObject({ pid: 4242, jvmVersion: '17.0.10+7', startLine: 1 });
  });

  it('reads CRLF input exactly like LF input', () => {
    const lf = parseDumpText(JDK17.join('\n'));
    const crlf = parseDumpText(JDK17.join('\r\n'));
    expect(crlf.dumps[0]!.threads.map((t) => [t.name, t.stateDetail, t.stackKey])).toEqual(
      lf.dumps[0]!.threads.map((t) => [t.name, t.stateDetail, t.stackKey]),
    );
    expect(crlf.unparsedLines).toBe(0);
  });

  it('strips a log prefix found on every line', () => {
    let ms = 100;
    const prefixed = JDK17.map((l) => `2024-03-01 10:00:00,${String(ms++).padStart(3, '0')} INFO  [Thread-7] ${l}`);
    const r = parseDumpText(prefixed.join('\n'), { keepUnparsed: true });
    expect(r.dumps).toHaveLength(1);
    expect(r.dumps[0]!.threads.map((t) => t.name)).toEqual(['main', 'pool-1-thread-1', 'VM Thread']);
    expect(r.dumps[0]!.threads[1]!.frames).toHaveLength(4);
    expect(r.unparsed).toEqual([]);
  });

  it('finds a log prefix from bytes when the dump starts far into the log, after a very long line', () => {
    // Prefix detection reads the bytes in growing windows: the marker lines are past the first ones.
    let ms = 100;
    const prefixed = JDK17.map(
      (l) => `2024-03-01 10:00:00,${String(ms++ % 1000).padStart(3, '0')} INFO  [Thread-7] ${l}`,
    );
    const log = [
      `2024-03-01 09:59:59,000 INFO  [main] ${'x'.repeat(9000)}`,
      ...Array.from(
        { length: 400 },
        (_, i) => `2024-03-01 09:59:59,${String(i % 1000).padStart(3, '0')} INFO  [main] step ${i}`,
      ),
      ...prefixed,
    ].join('\n');
    const fromBytes = parseBytes(Buffer.from(log, 'latin1'));
    expect(fromBytes.dumps).toHaveLength(1);
    expect(fromBytes.dumps[0]!.threads.map((t) => t.name)).toEqual(['main', 'pool-1-thread-1', 'VM Thread']);
    expect(fromBytes.dumps[0]!.threads[1]!.frames).toHaveLength(4);
    expect(fromBytes.unparsedLines).toBe(parseDumpText(log).unparsedLines);
  });

  it('splits a kill -3 log into its dumps, counting the log lines between them as unparsed', () => {
    const text = [
      '12:00:00.000 [main] INFO  app started',
      ...JDK17,
      '12:00:05.000 [main] INFO  still running',
      ...JDK17.map((l) => l.replace('10:00:00', '10:00:05')),
    ].join('\n');
    const r = parseDumpText(text, { keepUnparsed: true });
    expect(r.dumps.map((d) => d.threads.length)).toEqual([3, 3]);
    expect(r.dumps.map((d) => d.capturedAtMs)).toEqual([
      Date.UTC(2024, 2, 1, 10, 0, 0),
      Date.UTC(2024, 2, 1, 10, 0, 5),
    ]);
    expect(r.unparsed.map((u) => u.line)).toEqual([1, JDK17.length + 2]);
    expect(r.dumps[1]!.startLine).toBe(JDK17.length + 3);
    expect(r.parsedLines + r.unparsedLines).toBe(r.totalLines);
  });

  it('reports a malformed thread block with its line and goes on', () => {
    const text = [
      'Full thread dump OpenJDK 64-Bit Server VM (17.0.10+7 mixed mode):',
      '',
      '"broken header without a closing quote #3 prio=5',
      '   java.lang.Thread.State: RUNNABLE',
      `${T}at com.example.A.a(A.java:1)`,
      '',
      '"ok" #4 prio=5 os_prio=0 tid=0x1 nid=0x2 runnable  [0x0]',
      '   java.lang.Thread.State: RUNNABLE',
      `${T}at com.example.B.b(B.java:2)`,
      'some stray line',
    ].join('\n');
    const r = parseDumpText(text, { keepUnparsed: true });
    expect(r.errors).toEqual([{ line: 3, message: 'thread header without closing quote' }]);
    expect(r.dumps[0]!.errors).toEqual(r.errors);
    expect(r.dumps[0]!.threads.map((t) => t.name)).toEqual(['ok']);
    expect(r.unparsed.map((u) => u.line)).toEqual([3, 4, 5, 10]);
    expect(r.dumps[0]!.unparsedLines).toBe(4);
  });

  it('reads ownable-synchronizer deadlock sections', () => {
    const text = [
      'Full thread dump OpenJDK 64-Bit Server VM (17.0.10+7 mixed mode):',
      '',
      '"t1" #10 prio=5 os_prio=0 tid=0x1 nid=0x2 waiting on condition  [0x0]',
      '   java.lang.Thread.State: WAITING (parking)',
      `${T}at jdk.internal.misc.Unsafe.park(java.base@17/Native Method)`,
      '',
      'Found one Java-level deadlock:',
      '=============================',
      '"t1":',
      '  waiting for ownable synchronizer 0x000000076ab30c48, (a java.util.concurrent.locks.ReentrantLock$NonfairSync),',
      '  which is held by "t2"',
      '"t2":',
      '  waiting for ownable synchronizer 0x000000076ab30c78, (a java.util.concurrent.locks.ReentrantLock$NonfairSync),',
      '  which is held by "t1"',
      '',
      'Java stack information for the threads listed above:',
      '===================================================',
      '"t1":',
      `${T}at jdk.internal.misc.Unsafe.park(java.base@17/Native Method)`,
      `${T}- parking to wait for  <0x000000076ab30c48> (a java.util.concurrent.locks.ReentrantLock$NonfairSync)`,
      '"t2":',
      `${T}at jdk.internal.misc.Unsafe.park(java.base@17/Native Method)`,
      '',
      'Found 1 deadlock.',
    ].join('\n');
    const r = parseDumpText(text, { keepUnparsed: true });
    expect(r.unparsed).toEqual([]);
    expect(r.dumps[0]!.threads).toHaveLength(1);
    expect(r.dumps[0]!.deadlocks).toEqual([
      {
        line: 7,
        entries: [
          expect.objectContaining({
            thread: 't1',
            lockKind: 'ownable',
            lockAddress: '0x000000076ab30c48',
            heldBy: 't2',
          }),
          expect.objectContaining({
            thread: 't2',
            lockKind: 'ownable',
            lockAddress: '0x000000076ab30c78',
            heldBy: 't1',
          }),
        ],
      },
    ]);
  });

  it('reads the JDK ThreadInfo.toString form', () => {
    const text = [
      '"main" Id=1 RUNNABLE',
      `${T}at sun.management.ThreadImpl.dumpThreads0(Native Method)`,
      `${T}at Main.main(Main.java:5)`,
      '',
      '"Worker-1" daemon prio=5 Id=14 BLOCKED on java.lang.Object@1b6d3586 owned by "Worker-2" Id=15',
      `${T}at Worker.run(Worker.java:20)`,
      `${T}-  blocked on java.lang.Object@1b6d3586`,
      `${T}-  locked java.lang.Object@4554617c`,
      `${T}...`,
      '',
      `${T}Number of locked synchronizers = 1`,
      `${T}- java.util.concurrent.locks.ReentrantLock$NonfairSync@74a14482`,
      '',
    ].join('\n');
    expect(detectFormat(text)).toBe('jstack');
    const r = parseDumpText(text, { keepUnparsed: true });
    expect(r.unparsed).toEqual([]);
    expect(r.format).toBe('jmx');
    const [main, worker] = r.dumps[0]!.threads;
    expect(main).toMatchObject({ name: 'main', javaId: 1, state: 'RUNNABLE' });
    expect(worker).toMatchObject({
      name: 'Worker-1',
      javaId: 14,
      daemon: true,
      priority: 5,
      state: 'BLOCKED',
      waitingOnText: 'java.lang.Object@1b6d3586',
      blockedByText: '"Worker-2" Id=15',
      truncated: true,
    });
    expect(worker!.locks.map((l) => [l.kind, l.className, l.address])).toEqual([
      ['blocked-on', 'java.lang.Object', '1b6d3586'],
      ['locked', 'java.lang.Object', '4554617c'],
    ]);
    expect(worker!.ownableSynchronizers).toHaveLength(1);
  });
});

describe('Hadoop /stacks', () => {
  it('reads counters, Waiting on and Blocked by', () => {
    const text = [
      'Process Thread Dump: jsp',
      '2 active threads',
      'Thread 17 (IPC Server handler 3 on default port 8020):',
      '  State: BLOCKED',
      '  Blocked count: 12',
      '  Blocked time: 340',
      '  Waited count: 7',
      '  Waited time: 55',
      '  Blocked on java.lang.Object@5f1c',
      '  Blocked by 18 (IPC Server handler 4 on default port 8020)',
      '  Stack:',
      '    org.apache.hadoop.hdfs.server.namenode.FSNamesystem.writeLock(FSNamesystem.java:1500)',
      '    org.apache.hadoop.ipc.Server$Handler.run(Server.java:2700)',
      'Thread 18 (IPC Server handler 4 on default port 8020):',
      '  State: RUNNABLE',
      '  Blocked count: 0',
      '  Waited count: 0',
      '  Stack:',
      '    java.lang.Thread.run(Thread.java:750)',
      '',
    ].join('\n');
    expect(detectFormat(text)).toBe('hadoop-stacks');
    const r = parseDumpText(text, { keepUnparsed: true });
    expect(r.unparsed).toEqual([]);
    const [a, b] = r.dumps[0]!.threads;
    expect(a).toMatchObject({
      javaId: 17,
      name: 'IPC Server handler 3 on default port 8020',
      state: 'BLOCKED',
      blockedCount: 12,
      blockedTimeMs: 340,
      waitedCount: 7,
      waitedTimeMs: 55,
      waitingOnText: 'java.lang.Object@5f1c',
      blockedByText: '18 (IPC Server handler 4 on default port 8020)',
    });
    expect(a!.frames).toHaveLength(2);
    expect(b!.state).toBe('RUNNABLE');
  });
});

describe('frames', () => {
  it.each([
    ['java.lang.Object.wait(Native Method)', { className: 'java.lang.Object', method: 'wait', native: true }],
    [
      'java.lang.Thread.run(java.base@21/Thread.java:1583)',
      { module: 'java.base@21', className: 'java.lang.Thread', method: 'run', file: 'Thread.java', line: 1583 },
    ],
    [
      'java.base/java.lang.Object.wait0(Native Method)',
      { module: 'java.base', className: 'java.lang.Object', method: 'wait0', native: true },
    ],
    [
      'app//org.Foo$Bar.<init>(Foo.java:3)',
      { module: 'app/', className: 'org.Foo$Bar', method: '<init>', file: 'Foo.java', line: 3 },
    ],
    [
      'java.lang.VirtualThread$$Lambda/0x00003800010ff800.run(java.base@25/Unknown Source)',
      { module: 'java.base@25', className: 'java.lang.VirtualThread$$Lambda/0x00003800010ff800', method: 'run' },
    ],
    ['RpcServer.handle(Unknown Source)', { className: 'RpcServer', method: 'handle' }],
    ['weird', { className: '', method: 'weird' }],
  ])('%s', (text, parts) => {
    expect(parseFrameText(text)).toEqual(parts);
  });
});
