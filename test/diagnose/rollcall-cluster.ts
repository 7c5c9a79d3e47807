// Hand-built rollcall NodeDumps that mimic a legacy-mode rolllog hang (DESIGN §1): the master's
// default pool of 30 handlers is full — one handler holds the client's execProcedure for the whole
// barrier, the 29 others each serve a worker's checkRoll and wait on a nested call to the master
// whose call sits queued in the master's default pool; the workers' subprocedure threads wait on
// checkRoll; further workers' checkRoll calls are queued. Used until the real cluster capture test.
import type { NodeDump, PoolSnapshot, QueuedCall, ThreadSnapshot, WaitDescriptor } from '../../src/threads/types.js';

const NOW = 100_000;

function thread(
  id: number,
  name: string,
  pool: string | null,
  state: ThreadSnapshot['state'],
  frames: string[],
  wait: WaitDescriptor | null,
  serving: ThreadSnapshot['serving'] = null,
  steps = 10,
): ThreadSnapshot {
  return {
    id,
    name,
    pool,
    daemon: true,
    state,
    frames,
    wait: wait === null ? null : { ...wait, sinceMs: NOW - 5000 },
    serving,
    counters: { steps, completed: 1, waited: 1, blocked: 0 },
    startedAtMs: 0,
  };
}

const HANDLER_IDLE = ['rollcall.rpc.FastPathRpcHandler.getCallRunner', 'rollcall.rpc.RpcHandler.run'];
const handlerName = (pool: string, i: number, queues: number, port: number) =>
  `RpcServer.${pool}.FPBQ.Fifo.handler=${i},queue=${i % queues},port=${port}`;

export interface LegacyOptions {
  workers: number;
  handlers: number;
  queues: number;
  /** When false, the master's nested calls are being served (a slow but live cluster). */
  starved: boolean;
}

/** One snapshot of the master and every worker. */
export function legacyCluster(o: LegacyOptions, round = 0): NodeDump[] {
  const workers = Array.from({ length: o.workers }, (_, k) => `w${k + 1}`);
  const masterThreads: ThreadSnapshot[] = [];
  const queued: QueuedCall[] = [];
  let id = 100;
  // Handler 0: the client's execProcedure, waiting for the barrier to complete.
  masterThreads.push(
    thread(
      id++,
      handlerName('default', 0, o.queues, 16000),
      'default',
      'WAITING',
      [
        'rollcall.procedure.Procedure.waitForCompleted',
        'rollcall.master.MasterRpcServices.execProcedure',
        ...HANDLER_IDLE.slice(1),
      ],
      {
        kind: 'barrier',
        procedure: 'rolllog',
        instance: 'rolllog-1',
        phase: 'completed',
        missing: workers,
        deadlineMs: NOW + 55_000,
      },
      { callerNode: 'client', callerThreadId: 1, callId: 1, method: 'execProcedure', sinceMs: NOW - 5000 },
    ),
  );
  const subprocId = (k: number) => 500 + k;
  const servedWorkers = Math.min(o.workers, o.handlers - 1);
  for (let i = 1; i < o.handlers; i++) {
    const hid = id++;
    if (i <= servedWorkers) {
      const w = workers[i - 1]!;
      const innerCall = 10_000 + i;
      masterThreads.push(
        thread(
          hid,
          handlerName('default', i, o.queues, 16000),
          'default',
          'WAITING',
          ['rollcall.rpc.RpcClient.call', 'rollcall.master.MasterRpcServices.checkRoll', ...HANDLER_IDLE.slice(1)],
          { kind: 'rpc', target: 'master', method: 'checkRollInner', callId: innerCall, deadlineMs: NOW + 55_000 },
          { callerNode: w, callerThreadId: subprocId(i), callId: 2000 + i, method: 'checkRoll', sinceMs: NOW - 5000 },
          o.starved ? 10 : 10 + round,
        ),
      );
      if (o.starved)
        queued.push({
          callId: innerCall,
          method: 'checkRollInner',
          callerNode: 'master',
          callerThreadId: hid,
          queue: (i * 7) % o.queues,
          enqueuedAtMs: NOW - 4000,
        });
    } else {
      masterThreads.push(
        thread(hid, handlerName('default', i, o.queues, 16000), 'default', 'IDLE', HANDLER_IDLE, null),
      );
    }
  }
  for (let i = 0; i < 20; i++)
    masterThreads.push(thread(id++, handlerName('priority', i, 2, 16000), 'priority', 'IDLE', HANDLER_IDLE, null));
  masterThreads.push(
    thread(
      id++,
      '(master)-proc-coordinator-pool-0',
      'proc-coordinator',
      'WAITING',
      ['rollcall.procedure.Procedure.waitForLatch', 'rollcall.procedure.Procedure.call'],
      {
        kind: 'barrier',
        procedure: 'rolllog',
        instance: 'rolllog-1',
        phase: 'completed',
        missing: workers,
        deadlineMs: NOW + 55_000,
      },
    ),
  );
  for (let k = servedWorkers + 1; k <= o.workers; k++) {
    queued.push({
      callId: 2000 + k,
      method: 'checkRoll',
      callerNode: workers[k - 1]!,
      callerThreadId: subprocId(k),
      queue: k % o.queues,
      enqueuedAtMs: NOW - 4000,
    });
  }
  const pool = (name: string, size: number, busy: number, q: QueuedCall[]): PoolSnapshot => ({
    name,
    size,
    busy,
    idle: size - busy,
    queueLengths: Array.from({ length: o.queues }, (_, i) => q.filter((c) => c.queue === i).length),
    maxQueueLength: 10 * size,
    rejected: 0,
    completed: 0,
    queued: q,
    queuedTotal: q.length,
  });
  const master: NodeDump = {
    format: 'rollcall-dump/1',
    node: 'master',
    role: 'master',
    pid: 1,
    version: 'rollcall 0.1.0',
    capturedAtMs: 1_700_000_000_000 + round * 1000,
    monotonicMs: NOW + round * 1000,
    threads: masterThreads,
    pools: [pool('default', o.handlers, servedWorkers + 1, queued), pool('priority', 20, 0, [])],
  };
  const workerDumps = workers.map((w, idx): NodeDump => {
    const k = idx + 1;
    const threads: ThreadSnapshot[] = [
      thread(
        subprocId(k),
        `member: '${w}' subprocedure-pool-0`,
        'subprocedure',
        'WAITING',
        [
          'rollcall.rpc.RpcClient.call',
          'rollcall.cluster.RollLogSubprocedure.sanityCheck',
          'rollcall.procedure.Subprocedure.insideBarrier',
          'rollcall.procedure.Subprocedure.call',
        ],
        { kind: 'rpc', target: 'master', method: 'checkRoll', callId: 2000 + k, deadlineMs: NOW + 55_000 },
      ),
    ];
    for (let i = 0; i < 10; i++)
      threads.push(thread(1000 + i, handlerName('default', i, 1, 16020), 'default', 'IDLE', HANDLER_IDLE, null));
    threads.push(
      thread(2000, 'wal-roller', null, 'TIMED_WAITING', ['rollcall.wal.Roller.run'], {
        kind: 'timer',
        untilMs: NOW + 500,
        reason: 'roll-interval',
      }),
    );
    return {
      format: 'rollcall-dump/1',
      node: w,
      role: 'worker',
      pid: 1 + k,
      version: 'rollcall 0.1.0',
      capturedAtMs: 1_700_000_000_000 + round * 1000,
      monotonicMs: NOW + round * 1000,
      threads,
      pools: [pool('default', 10, 0, [])],
    };
  });
  return [master, ...workerDumps];
}
