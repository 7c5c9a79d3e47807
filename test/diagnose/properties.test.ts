// Property tests: analysis of arbitrary parsed input never throws, and a `deadlock` verdict always
// comes with at least one cycle whose every edge has evidence.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { analyze } from '../../src/diagnose/index.js';
import {
  FrameTable,
  stackKeyOf,
  type LockKind,
  type NormalizedState,
  type ProcessDump,
  type ThreadDump,
} from '../../src/dumps/index.js';
import type { WaitDescriptor } from '../../src/threads/types.js';

const table = new FrameTable();
const FRAME_TEXTS = [
  'java.lang.Object.wait(Native Method)',
  'jdk.internal.misc.Unsafe.park(java.base@17/Native Method)',
  'java.util.concurrent.locks.LockSupport.park(java.base@17/LockSupport.java:211)',
  'java.util.concurrent.LinkedBlockingQueue.take(java.base@17/LinkedBlockingQueue.java:435)',
  'org.apache.hadoop.hbase.ipc.BlockingRpcCallback.get(BlockingRpcCallback.java:30)',
  'org.apache.hadoop.hbase.ipc.AbstractRpcClient.callBlockingMethod(AbstractRpcClient.java:56)',
  'org.apache.hadoop.hbase.shaded.protobuf.generated.MasterProtos$MasterService$BlockingStub.getTableState(MasterProtos.java:62)',
  'org.apache.hadoop.hbase.procedure.Procedure.waitForLatch(Procedure.java:112)',
  'org.apache.hadoop.hbase.procedure.Procedure.waitForCompleted(Procedure.java:103)',
  'org.apache.hadoop.ipc.Client.call(Client.java:1)',
  'io.grpc.stub.ClientCalls.blockingUnaryCall(ClientCalls.java:1)',
  'com.example.Service.handle(Service.java:10)',
  'java.lang.Thread.sleep(Native Method)',
  'java.lang.Thread.run(Thread.java:840)',
  'rollcall.rpc.FastPathRpcHandler.getCallRunner(Unknown Source)',
  'rollcall.procedure.Subprocedure.call(Unknown Source)',
];
const FRAMES = FRAME_TEXTS.map((t) => table.intern(t));
const NODES = ['master', 'w1', 'w2', 'rs1'];
const NAMES = [
  'RpcServer.default.FPBQ.Fifo.handler=0,queue=0,port=16000',
  'RpcServer.default.FPBQ.Fifo.handler=1,queue=1,port=16000',
  'IPC Server handler 0 on 8020',
  'pool-1-thread-1',
  'pool-1-thread-2',
  "member: 'w1' subprocedure-pool-0",
  'worker',
  'worker',
  'main',
];
const ADDRS = ['0x1', '0x2', '0x3', ''];
const STATES: NormalizedState[] = ['RUNNABLE', 'BLOCKED', 'WAITING', 'TIMED_WAITING', 'NEW', 'TERMINATED', 'UNKNOWN'];
const LOCK_KINDS: LockKind[] = [
  'locked',
  'waiting-to-lock',
  'waiting-on',
  'parking',
  'eliminated',
  'waiting-to-re-lock',
  'blocked-on',
];

const arbWait: fc.Arbitrary<WaitDescriptor> = fc.oneof(
  fc.record({
    kind: fc.constant('rpc' as const),
    target: fc.constantFrom(...NODES, 'elsewhere'),
    method: fc.constantFrom('checkRoll', 'execProcedure'),
    callId: fc.nat(5),
    deadlineMs: fc.constant(1000),
  }),
  fc.record({
    kind: fc.constant('barrier' as const),
    procedure: fc.constant('rolllog'),
    instance: fc.constantFrom('a', 'b'),
    phase: fc.constantFrom('acquired' as const, 'reached' as const, 'completed' as const),
    missing: fc.subarray([...NODES, 'gone']),
  }),
  fc.record({ kind: fc.constant('queue' as const), queue: fc.constant('q') }),
  fc.record({
    kind: fc.constant('lock' as const),
    lock: fc.constant('L'),
    owner: fc.record({ node: fc.constantFrom(...NODES), threadId: fc.nat(8) }),
  }),
  fc.record({ kind: fc.constant('timer' as const), untilMs: fc.nat(), reason: fc.constant('sleep') }),
  fc.record({ kind: fc.constant('io' as const), what: fc.constant('disk') }),
);

const arbThread: fc.Arbitrary<ThreadDump> = fc
  .record({
    name: fc.constantFrom(...NAMES),
    javaId: fc.option(fc.nat(10), { nil: undefined }),
    state: fc.constantFrom(...STATES),
    frames: fc.array(fc.nat(FRAMES.length - 1), { maxLength: 6 }),
    locks: fc.array(
      fc.record({
        frame: fc.integer({ min: -1, max: 6 }),
        kind: fc.constantFrom(...LOCK_KINDS),
        address: fc.constantFrom(...ADDRS),
      }),
      { maxLength: 3 },
    ),
    owned: fc.array(fc.constantFrom(...ADDRS), { maxLength: 2 }),
    cpuMs: fc.option(fc.nat(5), { nil: undefined }),
    rollcall: fc.option(
      fc.record({
        pool: fc.option(fc.constantFrom('default', 'subprocedure'), { nil: undefined }),
        idle: fc.option(fc.boolean(), { nil: undefined }),
        progress: fc.option(fc.nat(3), { nil: undefined }),
        wait: fc.option(arbWait, { nil: undefined }),
        serving: fc.option(
          fc.record({
            callerNode: fc.constantFrom(...NODES),
            callerThreadId: fc.nat(10),
            callId: fc.nat(5),
            method: fc.constant('checkRoll'),
            sinceMs: fc.constant(0),
          }),
          { nil: undefined },
        ),
      }),
      { nil: undefined },
    ),
    blockedBy: fc.option(fc.constantFrom('3 (worker)', 'owned by "x" Id=4', 'junk'), { nil: undefined }),
  })
  .map((r): ThreadDump => {
    const frames = r.frames.map((i) => FRAMES[i]!);
    const rollcall =
      r.rollcall === undefined
        ? undefined
        : Object.fromEntries(Object.entries(r.rollcall).filter(([, v]) => v !== undefined));
    return {
      name: r.name,
      ...(r.javaId !== undefined ? { javaId: r.javaId } : {}),
      daemon: false,
      state: r.state,
      stateDetail: r.state,
      ...(r.cpuMs !== undefined ? { cpuMs: r.cpuMs } : {}),
      frames,
      stackKey: stackKeyOf(frames),
      locks: r.locks.map((l) => ({ ...l, className: 'java.lang.Object' })),
      ownableSynchronizers: r.owned.map((address) => ({
        address,
        className: 'java.util.concurrent.locks.ReentrantLock$NonfairSync',
      })),
      ...(r.blockedBy !== undefined ? { blockedByText: r.blockedBy } : {}),
      line: 1,
      ...(rollcall !== undefined ? { rollcall } : {}),
    };
  });

const arbDump = (node: string): fc.Arbitrary<ProcessDump> =>
  fc
    .record({
      format: fc.constantFrom('jstack' as const, 'rollcall-text' as const, 'hadoop-stacks' as const, 'jmx' as const),
      threads: fc.array(arbThread, { maxLength: 10 }),
      deadlocks: fc.array(
        fc.array(
          fc.record({
            thread: fc.constantFrom(...NAMES),
            heldBy: fc.constantFrom(...NAMES),
            lockAddress: fc.option(fc.constantFrom(...ADDRS), { nil: undefined }),
            lockKind: fc.constantFrom('monitor' as const, 'ownable' as const, 'other' as const),
          }),
          { maxLength: 3 },
        ),
        { maxLength: 2 },
      ),
      queued: fc.array(
        fc.record({
          callId: fc.nat(5),
          callerNode: fc.constantFrom(...NODES),
          callerThreadId: fc.nat(10),
          queue: fc.nat(3),
        }),
        { maxLength: 3 },
      ),
      capturedAtMs: fc.option(fc.nat(10_000), { nil: undefined }),
    })
    .map((r): ProcessDump => ({
      node,
      format: r.format,
      threads: r.threads,
      deadlocks: r.deadlocks.map((entries, i) => ({
        line: i + 1,
        entries: entries.map((e) => ({ ...e, waitingToLock: `monitor ${e.lockAddress ?? ''}` })),
      })),
      pools: [
        {
          name: 'default',
          size: 2,
          busy: 1,
          idle: 1,
          queueLengths: [r.queued.length],
          maxQueueLength: 10,
          rejected: 0,
          completed: 0,
          queuedTotal: r.queued.length,
          queued: r.queued.map((q) => ({ ...q, method: 'inner' })),
        },
      ],
      ...(r.capturedAtMs !== undefined ? { capturedAtMs: r.capturedAtMs } : {}),
      startLine: 1,
      endLine: 1,
      unparsedLines: 0,
      errors: [],
    }));

const arbRounds = fc.integer({ min: 1, max: 3 }).chain((rounds) =>
  fc.array(fc.tuple(...NODES.map((n) => fc.option(arbDump(n), { nil: undefined }))), {
    minLength: rounds,
    maxLength: rounds,
  }),
);

describe('analysis properties', () => {
  it('never throws on arbitrary parsed input; a deadlock verdict always has a cycle with evidence on every edge', () => {
    let deadlocks = 0;
    fc.assert(
      fc.property(arbRounds, fc.boolean(), (rounds, detail) => {
        const result = analyze(
          rounds.map((r) => r.filter((d): d is ProcessDump => d !== undefined)),
          { detail },
        );
        if (result.verdict === 'deadlock') {
          expect(result.deadlocks.length).toBeGreaterThan(0);
          for (const d of result.deadlocks) {
            expect(d.cycle.length).toBeGreaterThan(0);
            for (const step of d.cycle) expect(step.evidence.length).toBeGreaterThan(0);
          }
        } else {
          expect(result.deadlocks).toEqual([]);
        }
        expect(result.threads.total).toBe(
          result.threads.blocked +
            result.threads.runningStuck +
            result.threads.waiting +
            result.threads.progressing +
            result.threads.idle,
        );
        // Waiting threads are listed apart from the stuck ones, never among them.
        expect(result.stuck.every((s) => s.state === 'blocked' || s.state === 'running-stuck')).toBe(true);
        expect(result.waitingTotal).toBe(result.threads.waiting);
        JSON.stringify(result);
        if (result.verdict === 'deadlock') deadlocks++;
      }),
      { numRuns: 400 },
    );
    // The generator must reach the interesting case often enough for the property to mean something.
    expect(deadlocks).toBeGreaterThan(20);
  });
});
