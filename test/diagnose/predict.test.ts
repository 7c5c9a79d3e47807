// `analyze --predict` on stacks shaped as gRPC-java, HBase and rollcall print them (frames taken
// from live dumps of the project's fixtures): a healthy system whose waits cycle through a bounded
// pool is predicted to deadlock at the pool's size (minus what other requests hold), and at a
// cluster size when the requests come one per node; the same services without the cycle, lock
// contention inside one pool, and a pool that grows on demand predict nothing.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Analyzer, type AnalysisResult, type Prediction } from '../../src/diagnose/index.js';
import { FrameTable, parseDumpText } from '../../src/dumps/index.js';
import { formatDumpText } from '../../src/threads/index.js';
import { renderHtmlReport } from '../../src/report/html/index.js';
import { renderTerminal } from '../../src/report/terminal.js';
import { runCli } from '../support/cli.js';
import { jstack, run, type T } from './jstack-text.js';
import { legacyCluster } from './rollcall-cluster.js';

const J = 'java.base@17.0.15';
const PARK = [
  `jdk.internal.misc.Unsafe.park(${J}/Native Method)`,
  `java.util.concurrent.locks.LockSupport.park(${J}/LockSupport.java:211)`,
];
const WORKER = [
  `java.util.concurrent.ThreadPoolExecutor.runWorker(${J}/ThreadPoolExecutor.java:1136)`,
  `java.util.concurrent.ThreadPoolExecutor$Worker.run(${J}/ThreadPoolExecutor.java:635)`,
  `java.lang.Thread.run(${J}/Thread.java:840)`,
];
/** A fixed pool's idle worker: LinkedBlockingQueue.take (a bounded pool: it does not grow). */
const IDLE_FIXED = [
  ...PARK,
  `java.util.concurrent.LinkedBlockingQueue.take(${J}/LinkedBlockingQueue.java:435)`,
  `java.util.concurrent.ThreadPoolExecutor.getTask(${J}/ThreadPoolExecutor.java:1062)`,
  ...WORKER,
];
/** A cached pool's idle worker: SynchronousQueue.poll (it makes threads on demand). */
const IDLE_CACHED = [
  ...PARK,
  `java.util.concurrent.SynchronousQueue$TransferStack.transfer(${J}/SynchronousQueue.java:401)`,
  `java.util.concurrent.SynchronousQueue.poll(${J}/SynchronousQueue.java:903)`,
  `java.util.concurrent.ThreadPoolExecutor.getTask(${J}/ThreadPoolExecutor.java:1061)`,
  ...WORKER,
];
const grpcCall = (service: string, method: string): string[] => [
  ...PARK,
  'io.grpc.stub.ClientCalls$ThreadlessExecutor.waitAndDrain(ClientCalls.java:731)',
  'io.grpc.stub.ClientCalls.blockingUnaryCall(ClientCalls.java:149)',
  `com.example.shop.api.${service}Grpc$${service}BlockingStub.${method}(${service}Grpc.java:157)`,
];
const grpcServe = (service: string, method: string, inner: string[]): string[] => [
  ...inner,
  `com.example.shop.${service}Server$${service}Service.${method}(${service}Server.java:58)`,
  `com.example.shop.api.${service}Grpc$MethodHandlers.invoke(${service}Grpc.java:274)`,
  'io.grpc.stub.ServerCalls$UnaryServerCallHandler$UnaryServerCallListener.onHalfClose(ServerCalls.java:182)',
  'io.grpc.internal.SerializingExecutor.run(SerializingExecutor.java:133)',
  ...WORKER,
];
const SLEEP = [`java.lang.Thread.sleep(${J}/Native Method)`];
const rounds = <X>(n: number, f: (r: number) => X): X[] => Array.from({ length: n }, (_, r) => f(r));

/**
 * The gRPC shop at 4 concurrent Place calls: orders' fixed pool of 8 (4 threads in Place, blocked on
 * Inventory/reserve), inventory's cached executor serving Reserve — which, nested, calls back
 * Orders/audit (one orders thread seen serving Audit in round 1).
 */
function shop(nested: boolean, samples = 3): T[][][] {
  const orders = rounds(samples, (r) =>
    rounds(8, (i): T => {
      const busy = (i + r) % 2 === 0;
      const auditing = nested && r === 1 && i === 7;
      return {
        name: `pool-1-thread-${i + 1}`,
        state: busy ? 'WAITING (parking)' : auditing ? 'TIMED_WAITING (sleeping)' : 'WAITING (parking)',
        cpu: 10 + r * 5 + i,
        stack: auditing
          ? grpcServe('Orders', 'audit', SLEEP)
          : busy
            ? grpcServe('Orders', 'place', grpcCall('Inventory', 'reserve'))
            : IDLE_FIXED,
      };
    }),
  );
  const inventory = rounds(samples, (r) =>
    rounds(6, (i): T => {
      const calling = i < 2;
      return {
        name: `grpc-default-executor-${i}`,
        state:
          calling && nested ? 'WAITING (parking)' : calling ? 'TIMED_WAITING (sleeping)' : 'TIMED_WAITING (parking)',
        cpu: 20 + r * 7 + i,
        stack: calling ? grpcServe('Inventory', 'reserve', nested ? grpcCall('Orders', 'audit') : SLEEP) : IDLE_CACHED,
      };
    }),
  );
  return [orders, inventory];
}

const predict = (samples: T[][][]): AnalysisResult => run(samples, { predict: true });

describe('analyze --predict', () => {
  it('a nested callback into a fixed pool, healthy at half its size: fires at the pool size, naming the path', () => {
    const res = predict(shop(true));
    expect(res.verdict).toBe('healthy');
    expect(res.predictions).toHaveLength(1);
    const p = res.predictions![0]!;
    expect(p).toMatchObject({ pool: 'n0/pool-1', node: 'n0', size: 8, firesAtConcurrency: 8, confidence: 'high' });
    expect(p.firesAtNodes).toBeUndefined();
    expect(p.path.map((s) => s.serving)).toEqual(['Orders/place', 'Inventory/reserve']);
    expect(p.path.map((s) => s.waitsOn)).toEqual(['rpc Inventory/reserve', 'rpc Orders/audit']);
    expect(p.path.map((s) => s.pool)).toEqual(['n0/pool-1', 'n1/grpc-default-executor']);
    expect(p.cycle).toEqual(['n0/pool-1', 'n1/grpc-default-executor', 'n0/pool-1']);
    expect(p.requests).toEqual([expect.objectContaining({ serving: 'Orders/place', concurrency: 4, held: false })]);
    // Every edge of the cycle carries the threads and samples behind it.
    for (const e of p.evidence) {
      expect(e.threads.length).toBeGreaterThan(0);
      expect(e.samples.length).toBeGreaterThan(0);
      expect(e.frames.length).toBeGreaterThan(0);
    }
    expect(p.evidence.find((e) => e.waitsOn === 'rpc Orders/audit')!.threads[0]).toMatch(/^n1\/grpc-default-executor-/);
    const text = renderTerminal(res);
    expect(text).toContain('Predicted deadlocks');
    expect(text).toContain('n0/pool-1 (8 handlers) deadlocks at 8 concurrent Orders/place');
  });

  it('works from the dumps of one process: a pool nested into itself', () => {
    const svc = rounds(3, (r) =>
      rounds(6, (i): T => ({
        name: `pool-1-thread-${i + 1}`,
        state: 'WAITING (parking)',
        cpu: r * 3 + i,
        stack:
          i === 0
            ? grpcServe('Api', 'outer', grpcCall('Api', 'inner'))
            : i === 1
              ? grpcServe('Api', 'inner', SLEEP)
              : IDLE_FIXED,
      })),
    );
    const p = predict([svc]).predictions!;
    expect(p).toHaveLength(1);
    expect(p[0]).toMatchObject({ pool: 'n0/pool-1', size: 6, firesAtConcurrency: 6 });
    expect(p[0]!.path).toEqual([expect.objectContaining({ serving: 'Api/outer', waitsOn: 'rpc Api/inner' })]);
  });

  it('the same services without the callback predict nothing', () => {
    const res = predict(shop(false));
    expect(res.predictions).toEqual([]);
    expect(renderTerminal(res)).toContain('Predicted deadlocks: none');
  });

  it('no false alarm: lock contention inside one pool, a cycle through a pool that grows, nothing without --predict', () => {
    // Handlers serving Api/get wait for a lock another handler of the same pool holds: it runs, it
    // needs no free handler — not a starvation.
    const locked = rounds(3, (r) =>
      rounds(4, (i): T => ({
        name: `pool-1-thread-${i + 1}`,
        state: i === 0 ? 'RUNNABLE' : i === 1 ? 'BLOCKED (on object monitor)' : 'WAITING (parking)',
        cpu: r + i,
        stack:
          i === 0
            ? grpcServe('Api', 'get', ['com.example.Store.read(Store.java:10)'])
            : i === 1
              ? grpcServe('Api', 'get', ['com.example.Store.read(Store.java:10)'])
              : IDLE_FIXED,
        locks:
          i === 0
            ? ['locked <0x1> (a com.example.Store)']
            : i === 1
              ? ['waiting to lock <0x1> (a com.example.Store)']
              : [],
      })),
    );
    expect(predict([locked]).predictions).toEqual([]);
    // The nested shop with both servers on gRPC's cached executor: it makes a thread per call.
    const cached = shop(true).map((node) =>
      node.map((sample) =>
        sample.map((t) => ({
          ...t,
          name: t.name.replace(/^pool-1-thread-(\d+)$/, 'grpc-default-executor-1$1'),
          stack: t.stack === IDLE_FIXED ? IDLE_CACHED : t.stack,
        })),
      ),
    );
    expect(predict(cached).predictions).toEqual([]);
    expect(run(shop(true)).predictions).toBeUndefined();
  });
});

describe('rollcall analyze --predict (CLI)', () => {
  it('--json carries the predictions; --fail-on prediction exits 1 when there is one, 0 when not, 2 without --predict', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rollcall-predict-cli-'));
    try {
      // One file per node, its samples one after the other.
      const write = (samples: T[][][], tag: string): string[] =>
        samples.map((node, n) => {
          const file = join(dir, `${tag}-n${n}.txt`);
          writeFileSync(file, node.map((threads) => jstack(threads)).join('\n'));
          return `--node=n${n}=${file}`;
        });
      const nested = write(shop(true), 'nested');
      const json = await runCli(['analyze', ...nested, '--predict', '--json']);
      expect(json.code, json.stderr).toBe(0);
      const out = JSON.parse(json.stdout) as AnalysisResult;
      expect(out.predictions).toEqual([expect.objectContaining({ pool: 'n0/pool-1', firesAtConcurrency: 8 })]);
      expect((await runCli(['analyze', ...nested, '--predict', '--fail-on', 'prediction'])).code).toBe(1);
      const fixed = write(shop(false), 'fixed');
      expect((await runCli(['analyze', ...fixed, '--predict', '--fail-on', 'prediction'])).code).toBe(0);
      const usage = await runCli(['analyze', ...nested, '--fail-on', 'prediction']);
      expect(usage.code).toBe(2);
      expect(usage.stderr).toMatch(/--fail-on prediction needs --predict/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

// ---- HBase: one callback per region server ----------------------------------------------------

const HB = 'org.apache.hadoop.hbase';
const HBASE_CALL = (stub: string, method: string): string[] => [
  `java.lang.Object.wait(${J}/Native Method)`,
  `java.lang.Object.wait(${J}/Object.java:338)`,
  `${HB}.ipc.BlockingRpcCallback.get(BlockingRpcCallback.java:30)`,
  `${HB}.ipc.AbstractRpcClient.callBlockingMethod(AbstractRpcClient.java:56)`,
  `${HB}.ipc.AbstractRpcClient$BlockingRpcChannelImplementation.callBlockingMethod(AbstractRpcClient.java:72)`,
  `${HB}.shaded.protobuf.generated.${stub}$BlockingStub.${method}(Protos.java:62)`,
];
const HBASE_HANDLER = [
  `${HB}.ipc.RpcServer.call(RpcServer.java:81)`,
  `${HB}.ipc.CallRunner.run(CallRunner.java:22)`,
  `${HB}.ipc.RpcHandler.run(RpcHandler.java:38)`,
];
const HBASE_IDLE = [
  ...PARK,
  `java.util.concurrent.Semaphore.acquire(${J}/Semaphore.java:318)`,
  `${HB}.ipc.FastPathRpcHandler.getCallRunner(FastPathRpcHandler.java:25)`,
  `${HB}.ipc.RpcHandler.run(RpcHandler.java:28)`,
];
const serveGet = (inner: string[]): string[] => [
  ...inner,
  `${HB}.backup.BackupObserver.preGetOp(BackupObserver.java:30)`,
  `${HB}.regionserver.RSRpcServices.get(RSRpcServices.java:22)`,
  `${HB}.shaded.protobuf.generated.ClientProtos$ClientService$2.callBlockingMethod(ClientProtos.java:36)`,
  ...HBASE_HANDLER,
];

/** A master with `handlers` default handlers: one holds execProcedure, `workers` serve checks. */
function hbase(handlers: number, workers: number, samples = 3): T[][][] {
  const master = rounds(samples, (r) =>
    rounds(handlers, (i): T => {
      const name = `RpcServer.default.FPBQ.Fifo.handler=${i},queue=0,port=16000`;
      if (i === 0)
        return {
          name,
          state: 'WAITING (on object monitor)',
          stack: [
            `java.lang.Object.wait(${J}/Native Method)`,
            `${HB}.procedure.Procedure.waitForLatch(Procedure.java:112)`,
            `${HB}.procedure.Procedure.waitForCompleted(Procedure.java:103)`,
            `${HB}.backup.master.LogRollMasterProcedureManager.execProcedure(LogRollMasterProcedureManager.java:30)`,
            `${HB}.master.MasterRpcServices.execProcedure(MasterRpcServices.java:36)`,
            `${HB}.shaded.protobuf.generated.MasterProtos$MasterService$2.callBlockingMethod(MasterProtos.java:38)`,
            ...HBASE_HANDLER,
          ],
        };
      if (i <= workers)
        return {
          name,
          state: 'WAITING (on object monitor)',
          cpu: r,
          stack: serveGet(i === 1 || r > 0 ? HBASE_CALL('MasterProtos$MasterService', 'getTableState') : SLEEP),
        };
      if (i === workers + 1 && r === 2)
        return {
          name,
          state: 'TIMED_WAITING (sleeping)',
          stack: [
            ...SLEEP,
            `${HB}.master.MasterRpcServices.getTableState(MasterRpcServices.java:43)`,
            `${HB}.shaded.protobuf.generated.MasterProtos$MasterService$2.callBlockingMethod(MasterProtos.java:38)`,
            ...HBASE_HANDLER,
          ],
        };
      return { name, state: 'WAITING (parking)', stack: HBASE_IDLE };
    }),
  );
  const rs = (k: number) =>
    rounds(samples, (r): T[] => [
      {
        name: 'RpcServer.priority.FPBQ.Fifo.handler=0,queue=0,port=16020',
        state: 'WAITING (parking)',
        stack: HBASE_IDLE,
      },
      {
        name: `rs(rs${k},16020,170000000000${k})-backup-pool-0`,
        state: 'WAITING (on object monitor)',
        cpu: r,
        stack: [
          ...HBASE_CALL('ClientProtos$ClientService', 'get'),
          `${HB}.backup.impl.BackupSystemTable.readRegionServerLastLogRollResult(BackupSystemTable.java:18)`,
          `${HB}.backup.regionserver.LogRollBackupSubprocedure$RSRollLogTask.call(LogRollBackupSubprocedure.java:38)`,
          `java.util.concurrent.FutureTask.run(${J}/FutureTask.java:264)`,
          ...WORKER,
        ],
      },
    ]);
  return [master, ...rounds(workers, (k) => rs(k + 1))];
}

describe('analyze --predict: requests that come one per node', () => {
  it('HBase-shaped: the master default pool fires from handlers − 1 region servers, seen from 2', () => {
    for (const handlers of [4, 10]) {
      const res = predict(hbase(handlers, 2));
      expect(res.verdict).not.toBe('deadlock');
      expect(res.predictions).toHaveLength(1);
      const p = res.predictions![0]!;
      expect(p).toMatchObject({
        pool: 'n0/RpcServer.default.FPBQ.Fifo:16000',
        role: 'master',
        size: handlers,
        firesAtConcurrency: handlers - 1,
        firesAtNodes: handlers - 1,
      });
      expect(p.requests).toEqual([
        expect.objectContaining({ serving: 'ClientService/get', perNode: 1, callerRole: 'regionserver', held: false }),
        expect.objectContaining({ serving: 'MasterService/execProcedure', concurrency: 1, held: true }),
      ]);
      expect(p.path).toEqual([
        expect.objectContaining({ serving: 'ClientService/get', waitsOn: 'rpc MasterService/getTableState' }),
      ]);
      expect(renderTerminal(res)).toContain(`deadlocks from ${handlers - 1} regionserver nodes`);
      // The callers are evidence too: each region server's own thread calling ClientService/get.
      const callers = p.evidence.find((e) => e.waitsOn === 'rpc ClientService/get')!;
      expect(callers.threads.map((t) => t.split('/')[0]).sort()).toEqual(['n1', 'n2']);
      const html = renderHtmlReport(res);
      expect(html).toContain('<section id="predictions"');
      expect(html).toContain(`deadlocks from ${handlers - 1} regionserver nodes`);
    }
  });

  it("rollcall's own dumps of a healthy legacy run: the same threshold as rolllog --predict (29 for 30 handlers)", () => {
    const frames = new FrameTable();
    for (const form of ['text', 'json'] as const) {
      const a = new Analyzer({ predict: true });
      for (let r = 0; r < 3; r++) {
        const round = legacyCluster({ workers: 3, handlers: 30, queues: 3, starved: false }, r);
        a.addRound(
          round.map(
            (nd) => parseDumpText(form === 'text' ? formatDumpText(nd) : JSON.stringify(nd), { frames }).dumps[0]!,
          ),
        );
      }
      const res = a.finish();
      expect(res.verdict).not.toBe('deadlock');
      const p: Prediction = res.predictions![0]!;
      expect(p).toMatchObject({ pool: 'master/default', size: 30, firesAtConcurrency: 29, firesAtNodes: 29 });
      expect(p.confirm).toBe('rollcall simulate --nodes 27..31 --mode legacy --handlers 30');
      expect(p.requests.find((x) => !x.held)).toMatchObject({ serving: 'checkRoll', callerRole: 'worker', perNode: 1 });
    }
  });
});
