import { describe, expect, it } from 'vitest';
import type { Clock } from '../../src/substrate/types.js';
import { ThreadRegistry, formatDumpText, type WaitDescriptor } from '../../src/threads/index.js';
import { gate } from '../support/gate.js';

function fakeClock(): Clock & { t: number } {
  return {
    t: 1000,
    nowMs() {
      return this.t;
    },
    wallMs() {
      return 1_764_237_600_000 + this.t;
    },
    setTimer: () => ({ cancel: () => {} }),
  };
}

describe('logical threads', () => {
  it('keeps a frame stack across awaits and shows it innermost first', async () => {
    const reg = new ThreadRegistry('n1', 'worker', 42, fakeClock());
    const t = reg.spawn('worker-thread', { pool: 'member' });
    const g = gate();
    const running = t.run('a.Outer.run', () =>
      t.run('a.Inner.call', () => t.waitOn({ kind: 'io', what: 'fsync' }, g.promise)),
    );
    await Promise.resolve();
    const snap = t.snapshot();
    expect(snap.frames).toEqual(['a.Inner.call', 'a.Outer.run']);
    expect(snap.state).toBe('WAITING');
    expect(snap.wait).toMatchObject({ kind: 'io', what: 'fsync', sinceMs: 1000 });
    g.open();
    await running;
    expect(t.snapshot().frames).toEqual([]);
    expect(t.state).toBe('RUNNABLE');
    expect(t.counters.waited).toBe(1);
  });

  it('refuses two concurrent tasks on one thread (the stack would lie)', async () => {
    const reg = new ThreadRegistry('n1', 'worker', 42, fakeClock());
    const t = reg.spawn('x');
    const g1 = gate();
    const g2 = gate();
    const a = t.run('A.a', () => g1.promise);
    const b = t.run('B.b', () => g2.promise);
    g1.open();
    await expect(a).rejects.toThrow(/left out of order/);
    g2.open();
    await b;
  });

  it('maps waits to JVM states and tells observers about every wait', async () => {
    const reg = new ThreadRegistry('n1', 'master', 42, fakeClock());
    const seen: string[] = [];
    reg.addWaitObserver((thread, w) => seen.push(`${thread.name}:${w.kind}`));
    const cases: [WaitDescriptor, string][] = [
      [{ kind: 'rpc', target: 'm', method: 'M.x', callId: 1, deadlineMs: 5000 }, 'WAITING'],
      [{ kind: 'barrier', procedure: 'rolllog', instance: 'i1', phase: 'acquired', missing: ['w1'] }, 'TIMED_WAITING'],
      [{ kind: 'lock', lock: 'L' }, 'BLOCKED'],
      [{ kind: 'timer', untilMs: 2000, reason: 'work' }, 'TIMED_WAITING'],
    ];
    for (const [w, state] of cases) {
      const t = reg.spawn(`t-${w.kind}`);
      void t.waitOn(w, new Promise(() => {}));
      expect(t.state).toBe(state);
    }
    expect(seen).toEqual(['t-rpc:rpc', 't-barrier:barrier', 't-lock:lock', 't-timer:timer']);
  });

  it('formats a jstack-shaped text dump with rollcall wait and serving lines', () => {
    const clock = fakeClock();
    const reg = new ThreadRegistry('master', 'master', 4242, clock);
    const h = reg.spawn('RpcServer.default.FPBQ.Fifo.handler=3,queue=0,port=16000', { pool: 'default' });
    h.serving = { callerNode: 'worker-2', callerThreadId: 17, callId: 9, method: 'Master.checkRoll', sinceMs: 900 };
    void h.run('rollcall.rpc.RpcHandler.run', () =>
      h.waitOn(
        { kind: 'rpc', target: 'master', method: 'Master.readTable', callId: 77, deadlineMs: 61_000 },
        new Promise(() => {}),
      ),
    );
    const text = formatDumpText(reg.dump());
    expect(text.split('\n').slice(1, 3)).toEqual([
      'Full thread dump rollcall 0.1.0 (node=master role=master pid=4242 monotonicMs=1000.000):',
      '',
    ]);
    expect(text).toContain(
      '"RpcServer.default.FPBQ.Fifo.handler=3,queue=0,port=16000" #1 daemon prio=5 os_prio=0 elapsed=0.00s progress=',
    );
    expect(text).toContain(
      '   java.lang.Thread.State: WAITING (parking)\n\tat rollcall.rpc.RpcHandler.run(Unknown Source)\n',
    );
    expect(text).toContain(
      '\t- rollcall: waiting on rpc call=77 method=Master.readTable target=master deadlineInMs=60000 forMs=0.0\n',
    );
    expect(text).toContain(
      '\t- rollcall: serving call=9 method=Master.checkRoll caller=worker-2 callerThread=17 forMs=100.0\n',
    );
  });
});
