// Classification over samples (blocked / running-stuck / waiting / progressing / idle), identity
// across samples, pools and their exhaustion, user rules, and the verdicts stuck / slow / healthy.
import { describe, expect, it } from 'vitest';
import { Analyzer, parseRules, RulesError } from '../../src/diagnose/index.js';
import { FrameTable, parseDumpText } from '../../src/dumps/index.js';
import { classOf, jstack, run } from './jstack-text.js';

const frames = new FrameTable();

const IDLE_POOL = [
  'jdk.internal.misc.Unsafe.park(java.base@17/Native Method)',
  'java.util.concurrent.locks.LockSupport.park(java.base@17/LockSupport.java:341)',
  'java.util.concurrent.LinkedBlockingQueue.take(java.base@17/LinkedBlockingQueue.java:435)',
  'java.util.concurrent.ThreadPoolExecutor.getTask(java.base@17/ThreadPoolExecutor.java:1062)',
  'java.util.concurrent.ThreadPoolExecutor.runWorker(java.base@17/ThreadPoolExecutor.java:1122)',
  'java.lang.Thread.run(java.base@17/Thread.java:840)',
];
const WAIT_APP = [
  'java.lang.Object.wait(java.base@17/Native Method)',
  'com.example.Db.query(Db.java:10)',
  'com.example.Handler.handle(Handler.java:5)',
  'java.lang.Thread.run(java.base@17/Thread.java:840)',
];
const WORK = (n: number) => [
  'com.example.Work.step' + n + '(Work.java:1)',
  'com.example.Work.run(Work.java:2)',
  'java.lang.Thread.run(java.base@17/Thread.java:840)',
];
const SPIN = ['com.example.Spin.loop(Spin.java:1)', 'java.lang.Thread.run(java.base@17/Thread.java:840)'];
// lock-holder parks in Db.query holding the Db monitor; lock-waiter is blocked entering Db.update.
const HOLDER = [
  'java.lang.Object.wait(java.base@17/Native Method)',
  'com.example.Db.query(Db.java:10)',
  'com.example.Handler.handle(Handler.java:5)',
];
const LOCKER = ['com.example.Db.update(Db.java:20)', 'com.example.Handler.handle(Handler.java:6)'];
const SLEEP = [
  'java.lang.Thread.sleep(java.base@17/Native Method)',
  'com.example.Retry.backoff(Retry.java:3)',
  'com.example.Handler.handle(Handler.java:5)',
  'java.lang.Thread.run(java.base@17/Thread.java:840)',
];

describe('classification across samples', () => {
  it('tells blocked, running-stuck, waiting, progressing and idle apart', () => {
    const rounds = [0, 1, 2].map((r) => [
      { name: 'idle-worker', state: 'WAITING (parking)', stack: IDLE_POOL },
      { name: 'stuck-waiter', state: 'WAITING (on object monitor)', stack: WAIT_APP },
      {
        name: 'lock-holder',
        state: 'WAITING (on object monitor)',
        stack: HOLDER,
        locks: ['locked <0x00000000000000c1> (a com.example.Db)'],
      },
      {
        name: 'lock-waiter',
        state: 'BLOCKED (on object monitor)',
        stack: LOCKER,
        locks: ['waiting to lock <0x00000000000000c1> (a com.example.Db)'],
      },
      { name: 'worker', state: 'RUNNABLE', stack: WORK(r) },
      { name: 'spinner', state: 'RUNNABLE', stack: SPIN, cpu: 10 },
      { name: 'busy-same-stack', state: 'RUNNABLE', stack: SPIN, cpu: 10 + r * 50 },
      { name: 'sleeper', state: 'TIMED_WAITING (sleeping)', stack: SLEEP },
    ]);
    const res = run([rounds]);
    expect(classOf(res, 'idle-worker')).toBe('idle');
    // Parked in the same place throughout, but nothing says what it waits for should have happened.
    expect(classOf(res, 'stuck-waiter')).toBe('waiting');
    expect(classOf(res, 'lock-holder')).toBe('waiting');
    // A monitor another thread owns for the whole span: stuck.
    expect(classOf(res, 'lock-waiter')).toBe('blocked');
    expect(classOf(res, 'worker')).toBe('progressing');
    expect(classOf(res, 'spinner')).toBe('running-stuck');
    expect(classOf(res, 'busy-same-stack')).toBe('progressing');
    expect(classOf(res, 'sleeper')).toBe('progressing');
    expect(res.threads).toMatchObject({ total: 8, blocked: 1, runningStuck: 1, waiting: 2, progressing: 3, idle: 1 });
    expect(res.stuck.map((s) => [s.thread, s.state])).toEqual([
      ['lock-waiter', 'blocked'],
      ['spinner', 'running-stuck'],
    ]);
    // Waiting threads are listed apart, with the reason frame, not the waiting machinery.
    expect(res.waiting.map((s) => s.thread)).toEqual(['stuck-waiter', 'lock-holder']);
    expect(res.waitingTotal).toBe(2);
    expect(res.waiting[0]!.frame).toMatch(/^com\.example\.Db\.query/);
    expect(res.stuck[0]!.frame).toMatch(/^com\.example\.Db\.update/);
    expect(res.verdict).not.toBe('deadlock');
  });

  it('follows threads by #id through renames, and tolerates threads that come and go', () => {
    const res = run([
      [
        [
          { name: 'a', id: 1, state: 'WAITING (on object monitor)', stack: WAIT_APP },
          { name: 'gone', id: 2, state: 'RUNNABLE', stack: SPIN },
        ],
        [
          { name: 'a-renamed', id: 1, state: 'WAITING (on object monitor)', stack: WAIT_APP },
          { name: 'new', id: 3, state: 'RUNNABLE', stack: SPIN },
        ],
      ],
    ]);
    expect(res.threads.total).toBe(3);
    expect(classOf(res, 'a-renamed')).toBe('waiting');
    expect(classOf(res, 'gone')).toBe('progressing');
    expect(classOf(res, 'new')).toBe('progressing');
    expect(res.nodes[0]!.threadsPerSample).toEqual([2, 2]);
  });
});

describe('pools and verdicts', () => {
  const handler = (i: number) => `RpcServer.default.FPBQ.Fifo.handler=${i},queue=0,port=16000`;
  const HBASE_IDLE = [
    'jdk.internal.misc.Unsafe.park(java.base@17/Native Method)',
    'java.util.concurrent.Semaphore.acquire(java.base@17/Semaphore.java:318)',
    'org.apache.hadoop.hbase.ipc.FastPathBalancedQueueRpcExecutor$FastPathHandler.getCallRunner(FastPathBalancedQueueRpcExecutor.java:109)',
    'org.apache.hadoop.hbase.ipc.RpcExecutor$Handler.run(RpcExecutor.java:334)',
  ];
  const HBASE_CALL = [
    'java.lang.Object.wait(java.base@17/Native Method)',
    'org.apache.hadoop.hbase.ipc.BlockingRpcCallback.get(BlockingRpcCallback.java:30)',
    'org.apache.hadoop.hbase.ipc.AbstractRpcClient.callBlockingMethod(AbstractRpcClient.java:56)',
    'org.apache.hadoop.hbase.shaded.protobuf.generated.ClientProtos$ClientService$BlockingStub.get(ClientProtos.java:58)',
    'org.apache.hadoop.hbase.ipc.RpcExecutor$Handler.run(RpcExecutor.java:334)',
  ];

  it('healthy: idle HBase handlers', () => {
    const res = run([
      [0, 1].map(() => [0, 1, 2].map((i) => ({ name: handler(i), state: 'WAITING (parking)', stack: HBASE_IDLE }))),
    ]);
    expect(res.verdict).toBe('healthy');
    expect(res.pools[0]).toMatchObject({
      pool: 'RpcServer.default.FPBQ.Fifo:16000',
      size: 3,
      busy: 0,
      idle: 3,
      exhausted: false,
      saturated: false,
    });
  });

  it('stuck: every handler blocked on a call to a server not in the dumps', () => {
    const res = run([
      [0, 1, 2].map(() =>
        [0, 1, 2].map((i) => ({ name: handler(i), state: 'WAITING (on object monitor)', stack: HBASE_CALL })),
      ),
    ]);
    expect(res.verdict).toBe('stuck');
    expect(res.pools[0]!.exhausted).toBe(true);
    expect(res.deadlocks).toEqual([]);
  });

  it('slow: every handler busy, but their stacks move', () => {
    const res = run([
      [0, 1, 2].map((r) => [0, 1, 2].map((i) => ({ name: handler(i), state: 'RUNNABLE', stack: WORK(r + i) }))),
    ]);
    expect(res.verdict).toBe('slow');
    expect(res.pools[0]).toMatchObject({ exhausted: false, saturated: true, progressing: 3 });
  });

  it('healthy: a pool busy in one sample of three is a moment, not a slow system', () => {
    const res = run([
      [0, 1, 2].map((r) =>
        [0, 1, 2].map((i) =>
          r === 1
            ? { name: handler(i), state: 'RUNNABLE', stack: WORK(r + i) }
            : { name: handler(i), state: 'WAITING (parking)', stack: HBASE_IDLE },
        ),
      ),
    ]);
    expect(res.pools[0]).toMatchObject({ saturated: true, exhausted: false });
    expect(res.verdict).toBe('healthy');
  });

  it('a JVM-reported deadlock that dissolves between samples is not a deadlock', () => {
    const a = new Analyzer();
    const deadlocked = `2026-01-01 10:00:00
Full thread dump OpenJDK 64-Bit Server VM (17.0.15+6 mixed mode):

"A" #1 prio=5 os_prio=0 tid=0x1 nid=0x1 waiting for monitor entry  [0x0]
   java.lang.Thread.State: BLOCKED (on object monitor)
\tat com.example.X.a(X.java:1)
\t- waiting to lock <0x00000000000000b1> (a java.lang.Object)
\t- locked <0x00000000000000a1> (a java.lang.Object)

"B" #2 prio=5 os_prio=0 tid=0x2 nid=0x2 waiting for monitor entry  [0x0]
   java.lang.Thread.State: BLOCKED (on object monitor)
\tat com.example.X.b(X.java:2)
\t- waiting to lock <0x00000000000000a1> (a java.lang.Object)
\t- locked <0x00000000000000b1> (a java.lang.Object)

`;
    const moved = jstack([
      { name: 'A', id: 1, state: 'RUNNABLE', stack: WORK(1) },
      { name: 'B', id: 2, state: 'RUNNABLE', stack: WORK(2) },
    ]);
    a.addRound(parseDumpText(deadlocked, { frames, node: 'x' }).dumps);
    expect(new Analyzer().finish().verdict).toBe('healthy');
    a.addRound(parseDumpText(moved, { frames, node: 'x' }).dumps);
    expect(a.finish().verdict).not.toBe('deadlock');
  });
});

describe('user rules', () => {
  it('validates the file and reports the first problem with its path', () => {
    expect(() => parseRules('{', 'r.json')).toThrow(RulesError);
    expect(() => parseRules('{"pools":[{"threadName":"(","pool":"x"}]}', 'r.json')).toThrow(
      /pools\.0\.threadName: not a regular expression/,
    );
    expect(() => parseRules('{"waits":[{"frame":"x"}]}', 'r.json')).toThrow(/waits\.0\.target/);
    expect(() => parseRules('{"unknown":1}', 'r.json')).toThrow(RulesError);
    expect(parseRules('{}', 'r.json').name).toBe('r.json');
  });

  it('teaches pools, idle frames and cross-node waits to the analyzer', () => {
    const rules = parseRules(
      JSON.stringify({
        name: 'example',
        pools: [{ threadName: '^job-(?<handler>\\d+)$', pool: 'jobs' }],
        idle: [{ frame: '^com\\.example\\.Jobs\\.awaitJob$' }],
        waits: [
          {
            name: 'example sync call',
            frame: '^com\\.example\\.Client\\.callSync$',
            target: { node: 'n1', pool: '^jobs$' },
          },
        ],
        roles: [{ role: 'server', nodeName: '^n1$' }],
      }),
    );
    const CALL = [
      'java.lang.Object.wait(java.base@17/Native Method)',
      'com.example.Client.callSync(Client.java:1)',
      'com.example.Jobs.run(Jobs.java:1)',
    ];
    const IDLE = [
      'java.lang.Object.wait(java.base@17/Native Method)',
      'com.example.Jobs.awaitJob(Jobs.java:1)',
      'com.example.Jobs.loop(Jobs.java:1)',
      'com.example.Jobs.start(Jobs.java:1)',
    ];
    // n0's jobs call n1's jobs, and n1's jobs call n0's: a cycle across two nodes through pools.
    const node = (target: string) =>
      [0, 1].map(() =>
        [0, 1].map((i) => ({
          name: `job-${i}`,
          state: 'WAITING (on object monitor)',
          stack: target === 'idle' ? IDLE : CALL,
        })),
      );
    const rulesBack = parseRules(
      JSON.stringify({
        waits: [{ frame: '^com\\.example\\.Client\\.callSync$', target: { node: 'n0', pool: '^jobs$' } }],
      }),
    );
    const idle = run([node('idle'), node('idle')], { rules: [rules] });
    expect(idle.verdict).toBe('healthy');
    expect(idle.pools.map((p) => `${p.node}/${p.pool}:${p.idle}`).sort()).toEqual(['n0/jobs:2', 'n1/jobs:2']);
    const oneWay = run([node('call'), node('idle')], { rules: [rules] });
    expect(oneWay.verdict).not.toBe('deadlock');
    // n1 calls back into n0 (self: the rule for n1 says node n0).
    const res = run([node('call'), node('call')], { rules: [{ ...rules, waits: [...rules.waits] }] });
    expect(res.deadlocks.length).toBe(1); // n0 → n1/jobs → n1 jobs → n1/jobs: n1 starves itself
    const both = run([node('call'), node('call')], { rules: [rules, rulesBack] });
    expect(both.verdict).toBe('deadlock');
  });
});
