// rollcall's own dumps (NodeDump → text, NodeDump → JSON) parse back to the same threads.
import { describe, expect, it } from 'vitest';
import { FrameTable, parseDumpText, rollcallFrameText, type ProcessDump } from '../../src/dumps/index.js';
import type { Clock, TimerHandle } from '../../src/substrate/types.js';
import { formatDumpText, ThreadRegistry, type NodeDump, type ThreadSnapshot } from '../../src/threads/index.js';

/** Whole milliseconds, so the text form's rounding of relative times loses nothing. */
class FakeClock implements Clock {
  now = 10_000;
  nowMs(): number {
    return this.now;
  }
  wallMs(): number {
    return 1_700_000_000_000 + this.now;
  }
  setTimer(_delayMs: number, _fn: () => void): TimerHandle {
    return { cancel: () => undefined };
  }
}

const never = new Promise<never>(() => undefined);

function buildRegistry(): { registry: ThreadRegistry; clock: FakeClock } {
  const clock = new FakeClock();
  const registry = new ThreadRegistry('master', 'master', 4242, clock);
  const handler = (i: number) =>
    registry.spawn(`RpcServer.default.FPBQ.Fifo.handler=${i},queue=${i % 3},port=16000`, { pool: 'default' });

  const exec = handler(0);
  void exec.run('RpcHandler.run', () =>
    exec.run('MasterRpcServices.execProcedure', () =>
      exec.run('Procedure.waitForCompleted', () => {
        exec.serving = { callerNode: 'client', callerThreadId: 1, callId: 11, method: 'execProcedure', sinceMs: 9_000 };
        return exec.waitOn(
          { kind: 'barrier', procedure: 'rolllog', instance: 'rolllog-1', phase: 'reached', missing: ['w1', 'w2'] },
          never,
        );
      }),
    ),
  );
  clock.now += 250;
  const check = handler(1);
  void check.run('RpcHandler.run', () =>
    check.run('MasterRpcServices.checkRoll', () => {
      check.serving = { callerNode: 'w1', callerThreadId: 7, callId: 31, method: 'checkRoll', sinceMs: 10_100 };
      return check.waitOn(
        {
          kind: 'rpc',
          target: 'master',
          targetAddr: '127.0.0.1:16000',
          method: 'getTableState',
          callId: 32,
          deadlineMs: 70_000,
        },
        never,
      );
    }),
  );
  const idle = handler(2);
  void idle.run('RpcHandler.run', () => {
    idle.setIdle();
    return never;
  });
  const queued = registry.spawn('backup-writer', { daemon: false });
  void queued.run('BackupWriter.put', () => queued.waitOn({ kind: 'queue', queue: 'default', owner: 'master' }, never));
  const locked = registry.spawn('table-lock-waiter');
  void locked.run('TableLock.acquire', () =>
    locked.waitOn({ kind: 'lock', lock: 'table:backup', owner: { node: 'master', threadId: 1 } }, never),
  );
  const sleeper = registry.spawn('chore');
  void sleeper.run('Chore.run', () =>
    sleeper.waitOn({ kind: 'timer', untilMs: 12_000, reason: 'chore-period' }, never),
  );
  const io = registry.spawn('wal-syncer');
  void io.run('WAL.sync', () => io.waitOn({ kind: 'io', what: 'fsync' }, never));
  registry.spawn('runner-with-no-frames');
  // An idle thread with nothing on its stack must still read back as idle.
  registry.spawn('idle-with-no-frames').setIdle();
  clock.now += 500;
  return { registry, clock };
}

function expectSameThreads(dump: NodeDump, parsed: ProcessDump): void {
  expect(parsed.node).toBe(dump.node);
  expect(parsed.pid).toBe(dump.pid);
  expect(parsed.role).toBe(dump.role);
  expect(parsed.monotonicMs).toBe(dump.monotonicMs);
  expect(parsed.threads).toHaveLength(dump.threads.length);
  dump.threads.forEach((s: ThreadSnapshot, i) => {
    const t = parsed.threads[i]!;
    expect(t.name).toBe(s.name);
    expect(t.javaId).toBe(s.id);
    expect(t.nid).toBe(s.id);
    expect(t.daemon).toBe(s.daemon);
    expect(t.state).toBe(s.state === 'IDLE' ? 'WAITING' : s.state);
    expect(t.frames.map((f) => f.text)).toEqual(s.frames.map(rollcallFrameText));
    expect(t.rollcall?.pool).toBe(s.pool ?? undefined);
    expect(t.rollcall?.progress).toBe(s.counters.steps);
    expect(t.rollcall?.completed).toBe(s.counters.completed);
    expect(t.rollcall?.idle).toBe(s.state === 'IDLE' ? true : undefined);
    expect(t.rollcall?.wait).toEqual(s.wait ?? undefined);
    expect(t.rollcall?.serving).toEqual(s.serving ?? undefined);
  });
}

describe('rollcall dump round trip', () => {
  it('text: formatDumpText then parse gives back the same threads', () => {
    const { registry } = buildRegistry();
    const dump = registry.dump();
    const text = formatDumpText(dump);
    const r = parseDumpText(text, { keepUnparsed: true });
    expect(r.unparsed).toEqual([]);
    expect(r.errors).toEqual([]);
    expect(r.format).toBe('rollcall-text');
    expect(r.dumps).toHaveLength(1);
    expectSameThreads(dump, r.dumps[0]!);
    expect(r.dumps[0]!.capturedAtMs).toBe(Math.floor(dump.capturedAtMs / 1000) * 1000);
    expect(r.dumps[0]!.jvmVersion).toBe('rollcall 0.1.0');
  });

  it('JSON: NodeDump JSON parses to the same threads, with the same stack keys as the text form', () => {
    const { registry } = buildRegistry();
    const dump = registry.dump();
    const frames = new FrameTable();
    const fromJson = parseDumpText(JSON.stringify(dump, null, 2), { frames });
    const fromText = parseDumpText(formatDumpText(dump), { frames });
    expect(fromJson.format).toBe('rollcall-json');
    expect(fromJson.errors).toEqual([]);
    expectSameThreads(dump, fromJson.dumps[0]!);
    expect(fromJson.dumps[0]!.threads.map((t) => t.stackKey)).toEqual(
      fromText.dumps[0]!.threads.map((t) => t.stackKey),
    );
    expect(fromJson.dumps[0]!.capturedAtMs).toBe(dump.capturedAtMs);
  });

  it('reads the pools section', () => {
    const { registry } = buildRegistry();
    registry.registerPool('default', {
      snapshot: () => ({
        name: 'default',
        size: 3,
        busy: 2,
        idle: 1,
        queueLengths: [1, 0, 0],
        maxQueueLength: 30,
        rejected: 0,
        completed: 17,
        queued: [
          {
            callId: 32,
            method: 'getTableState',
            callerNode: 'master',
            callerThreadId: 2,
            queue: 0,
            enqueuedAtMs: 10_200,
          },
        ],
        queuedTotal: 1,
      }),
    });
    const dump = registry.dump();
    const [fromText] = parseDumpText(formatDumpText(dump)).dumps;
    const [fromJson] = parseDumpText(JSON.stringify(dump)).dumps;
    const expected = [
      {
        name: 'default',
        size: 3,
        busy: 2,
        idle: 1,
        queueLengths: [1, 0, 0],
        maxQueueLength: 30,
        rejected: 0,
        completed: 17,
        queuedTotal: 1,
        queued: [{ callId: 32, method: 'getTableState', callerNode: 'master', callerThreadId: 2, queue: 0 }],
      },
    ];
    expect(fromText!.pools).toEqual(expected);
    expect(fromJson!.pools).toEqual(expected);
  });

  it('a caller-supplied node name wins over the dump header', () => {
    const { registry } = buildRegistry();
    const [d] = parseDumpText(formatDumpText(registry.dump()), { node: 'bundle-name' }).dumps;
    expect(d!.node).toBe('bundle-name');
  });
});
