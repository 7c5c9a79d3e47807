import { describe, expect, it } from 'vitest';
import type { Clock } from '../../src/substrate/types.js';
import { ThreadRegistry } from '../../src/threads/index.js';
import { LatentDeadlockPredictor, type PredictorTopology } from '../../src/detect/predictor.js';

const clock: Clock = { nowMs: () => 0, wallMs: () => 0, setTimer: () => ({ cancel: () => {} }) };
const never = new Promise<never>(() => {});

function topology(workers: number, handlers = 30): PredictorTopology {
  return {
    roleOf: (n) => (n === 'master' ? 'master' : n.startsWith('worker-') ? 'worker' : undefined),
    poolFor: (role, method) =>
      role === 'master'
        ? method.startsWith('Member.')
          ? 'priority'
          : 'default'
        : role === 'worker'
          ? 'priority'
          : undefined,
    poolSize: (role, pool) =>
      role === 'master' && pool === 'default' ? handlers : role === 'worker' && pool === 'member' ? 10 : 20,
    barrierMembers: () => ({ role: 'worker', pool: 'member' }),
    scalingRole: 'worker',
    scalingNodes: () => workers,
  };
}

/**
 * Replays the waits a legacy rolllog makes, on `workers` workers, without any shortage of handlers;
 * the run ends (countRun) once every wait of it has begun, as rolllog's afterRun hook does.
 */
async function legacyRun(p: LatentDeadlockPredictor, workers: number, callSeq: { n: number }): Promise<void> {
  const master = new ThreadRegistry('master', 'master', 1, clock);
  master.addWaitObserver(p.observer('master'));
  const exec = master.spawn('RpcServer.default.FPBQ.Fifo.handler=0,queue=0,port=16000', { pool: 'default' });
  exec.serving = {
    callerNode: 'rollcall-cli',
    callerThreadId: 1,
    callId: callSeq.n++,
    method: 'Master.execProcedure',
    sinceMs: 0,
  };
  void exec.run('rollcall.cluster.MasterRpcServices.execProcedure', () =>
    exec.waitOn(
      { kind: 'barrier', procedure: 'rolllog', instance: 'i', phase: 'reached', missing: ['worker-1'] },
      never,
    ),
  );
  for (let w = 1; w <= workers; w++) {
    const reg = new ThreadRegistry(`worker-${w}`, 'worker', 1, clock);
    reg.addWaitObserver(p.observer(`worker-${w}`));
    const sub = reg.spawn(`member: 'worker-${w}' subprocedure-pool-1`, { pool: 'member' });
    const callId = callSeq.n++;
    void sub.run('rollcall.cluster.LogRollSubprocedure.insideBarrier', () =>
      sub.waitOn({ kind: 'rpc', target: 'master', method: 'Master.checkRoll', callId, deadlineMs: 60_000 }, never),
    );
    const h = master.spawn(`RpcServer.default.FPBQ.Fifo.handler=${w},queue=${w % 3},port=16000`, { pool: 'default' });
    h.serving = { callerNode: `worker-${w}`, callerThreadId: sub.id, callId, method: 'Master.checkRoll', sinceMs: 0 };
    void h.run('rollcall.cluster.MasterRpcServices.checkRoll', async () => {
      await h.waitOn({ kind: 'timer', untilMs: 20, reason: 'check-cost' }, Promise.resolve());
      await h.waitOn(
        { kind: 'rpc', target: 'master', method: 'Master.readBackupTable', callId: callSeq.n++, deadlineMs: 60_000 },
        never,
      );
    });
  }
  await new Promise((r) => setImmediate(r));
  p.countRun();
}

describe('latent deadlock predictor', () => {
  it('predicts the legacy starvation threshold from a 3-worker run', async () => {
    for (const handlers of [10, 30, 50]) {
      const p = new LatentDeadlockPredictor(topology(3, handlers));
      await legacyRun(p, 3, { n: 1 });
      const preds = p.predictions();
      expect(preds).toHaveLength(1);
      expect(preds[0]).toMatchObject({
        pool: 'master/default',
        handlers,
        firesAtConcurrency: handlers - 1,
        firesAtNodes: handlers - 1,
      });
      expect(preds[0]!.cycle[0]).toBe('master/default');
      expect(
        preds[0]!.evidence.some(
          (e) => e.serving === 'Master.checkRoll' && e.waitsOn.includes('Master.readBackupTable'),
        ),
      ).toBe(true);
      expect(preds[0]!.evidence.find((e) => e.serving === 'Master.checkRoll')!.frames[0]).toBe(
        'rollcall.cluster.MasterRpcServices.checkRoll',
      );
    }
  });

  it('counts the requests of one run as concurrent, whatever the number of runs', async () => {
    const p = new LatentDeadlockPredictor(topology(3));
    const seq = { n: 1 };
    await legacyRun(p, 3, seq);
    await legacyRun(p, 3, seq);
    expect(p.predictions()[0]).toMatchObject({ firesAtConcurrency: 29, firesAtNodes: 29 });
  });

  it('predicts nothing when workers report without a callback (fixed mode)', async () => {
    const p = new LatentDeadlockPredictor(topology(3));
    const master = new ThreadRegistry('master', 'master', 1, clock);
    master.addWaitObserver(p.observer('master'));
    const coord = master.spawn('master-proc-coordinator-pool-0', { pool: 'coordinator' });
    void coord.waitOn(
      { kind: 'barrier', procedure: 'rolllog', instance: 'i', phase: 'reached', missing: ['worker-1'] },
      never,
    );
    for (let w = 1; w <= 3; w++) {
      const reg = new ThreadRegistry(`worker-${w}`, 'worker', 1, clock);
      reg.addWaitObserver(p.observer(`worker-${w}`));
      const sub = reg.spawn('sub', { pool: 'member' });
      void sub.waitOn({ kind: 'rpc', target: 'master', method: 'Member.completed', callId: w, deadlineMs: 1 }, never);
    }
    p.countRun();
    expect(p.predictions()).toEqual([]);
  });
});
