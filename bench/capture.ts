// Capture skew: TARGETS local HTTP targets (each its own listener, serving a ~300-thread jstack
// dump) captured for ROUNDS rounds; prints the skew of every round (latest − earliest start) and
// how long rounds took. Goal: max skew ≤ 5 ms at 100 targets.
// usage: node dist/bench/capture.js [TARGETS=100] [ROUNDS=5] [INTERVAL_MS=1000]
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { captureBundle } from '../src/capture/index.js';

const GOAL_MAX_SKEW_MS = 5;
const [targets = 100, rounds = 5, intervalMs = 1000] = process.argv.slice(2).map(Number);

function dumpText(threads: number): string {
  const lines = [
    '2026-11-27 09:30:00',
    'Full thread dump OpenJDK 64-Bit Server VM (17.0.15+6 mixed mode, sharing):',
    '',
  ];
  for (let t = 0; t < threads; t++) {
    lines.push(
      `"RpcServer.default.FPBQ.Fifo.handler=${t},queue=${t % 3},port=16020" #${t + 20} daemon prio=5 os_prio=0 cpu=1.00ms elapsed=100.00s tid=0x00007fabb80c${t.toString(16).padStart(4, '0')} nid=0x${(0x1a00 + t).toString(16)} waiting on condition  [0x00007fabbd900000]`,
      '   java.lang.Thread.State: WAITING (parking)',
      '\tat jdk.internal.misc.Unsafe.park(java.base@17.0.15/Native Method)',
      '\tat java.util.concurrent.locks.LockSupport.park(java.base@17.0.15/LockSupport.java:341)',
      '\tat java.util.concurrent.Semaphore.acquire(java.base@17.0.15/Semaphore.java:318)',
      '\tat org.apache.hadoop.hbase.ipc.FastPathRpcHandler.getCallRunner(FastPathRpcHandler.java:55)',
      '\tat org.apache.hadoop.hbase.ipc.RpcHandler.run(RpcHandler.java:82)',
      '',
    );
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const body = dumpText(300);
  const servers: http.Server[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'rollcall-bench-capture-'));
  try {
    for (let i = 0; i < targets; i++) {
      const s = http.createServer((_req, res) => res.end(body));
      await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
      servers.push(s);
    }
    const manifest = await captureBundle({
      targets: servers.map((s, i) => ({
        name: `node${i}`,
        kind: 'url' as const,
        spec: `http://127.0.0.1:${(s.address() as AddressInfo).port}/stacks`,
      })),
      intervalMs,
      count: rounds,
      outDir: join(dir, 'bundle'),
    });
    const skews = manifest.rounds.map((r) => r.skewMs);
    const maxSkew = Math.max(...skews);
    const lateness = manifest.captures.map((c) => (c.startedAt ?? c.scheduledAt) - c.scheduledAt);
    const durations = manifest.captures.flatMap((c) =>
      c.startedAt !== undefined && c.finishedAt !== undefined ? [c.finishedAt - c.startedAt] : [],
    );
    const failed = manifest.captures.filter((c) => c.error !== undefined).length;
    console.log(
      JSON.stringify(
        {
          targets,
          rounds,
          intervalMs,
          bytesPerCapture: Buffer.byteLength(body),
          skewMsPerRound: skews.map((s) => Number(s.toFixed(3))),
          maxSkewMs: Number(maxSkew.toFixed(3)),
          goalMaxSkewMs: GOAL_MAX_SKEW_MS,
          maxStartAfterScheduleMs: Number(Math.max(...lateness).toFixed(3)),
          maxCaptureMs: Number(Math.max(...durations).toFixed(1)),
          failedCaptures: failed,
          ok: maxSkew <= GOAL_MAX_SKEW_MS && failed === 0,
        },
        null,
        2,
      ),
    );
  } finally {
    for (const s of servers) {
      s.closeAllConnections();
      s.close();
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

void main();
