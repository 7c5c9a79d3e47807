// A large capture for the report's size and speed bounds: the legacy hang of rollcall-cluster.ts at
// 99 workers (100 nodes), every node padded to 300 threads with JVM-like stacks 20–40 frames
// deep — idle pool workers, threads whose stacks change every sample, a few sleepers — over 6
// samples. Parsed through the text form, as a real capture would be.
import { Analyzer, type AnalysisResult } from '../../src/diagnose/index.js';
import { FrameTable, parseDumpText } from '../../src/dumps/index.js';
import { formatDumpText } from '../../src/threads/index.js';
import type { NodeDump, ThreadSnapshot } from '../../src/threads/types.js';
import { legacyCluster } from '../diagnose/rollcall-cluster.js';

// Innermost first, as in a dump; rollcall's text form adds the `(Unknown Source)` location.
const BASE = [
  'java.util.concurrent.ThreadPoolExecutor.runWorker',
  'java.util.concurrent.ThreadPoolExecutor$Worker.run',
  'java.lang.Thread.run',
];
const IDLE_TOP = [
  'jdk.internal.misc.Unsafe.park',
  'java.util.concurrent.locks.LockSupport.park',
  'java.util.concurrent.locks.AbstractQueuedSynchronizer$ConditionNode.block',
  'java.util.concurrent.ForkJoinPool.unmanagedBlock',
  'java.util.concurrent.ForkJoinPool.managedBlock',
  'java.util.concurrent.locks.AbstractQueuedSynchronizer$ConditionObject.await',
  'java.util.concurrent.LinkedBlockingQueue.take',
  'java.util.concurrent.ThreadPoolExecutor.getTask',
];

/** A deterministic middle of a stack: `depth` application frames chosen by seed. */
function appFrames(seed: number, depth: number): string[] {
  const pkgs = [
    'org.apache.hadoop.hbase.regionserver',
    'org.apache.hadoop.hbase.ipc',
    'org.apache.hadoop.hdfs',
    'com.example.app',
  ];
  const out: string[] = [];
  for (let i = 0; i < depth; i++) {
    const k = (seed * 31 + i * 17) % 97;
    out.push(`${pkgs[k % pkgs.length]}.Component${k % 23}.step${(k * 7) % 41}`);
  }
  return out;
}

function pad(node: NodeDump, round: number, target: number): void {
  let id = 50_000;
  for (let i = node.threads.length; i < target; i++) {
    const kind = i % 10; // 0-5 idle pool workers, 6-8 working (stack changes), 9 sleeping
    const name = `app-pool-${Math.floor(i / 50)}-thread-${i % 50}`;
    let frames: string[];
    let state: ThreadSnapshot['state'] = 'WAITING';
    if (kind <= 5) frames = [...IDLE_TOP, ...BASE];
    else if (kind <= 8) {
      frames = [...appFrames(i * 13 + round * 101, 15 + ((i + round) % 20)), ...BASE];
      state = 'RUNNABLE';
    } else {
      frames = ['java.lang.Thread.sleep', ...appFrames(i, 12), ...BASE];
      state = 'TIMED_WAITING';
    }
    node.threads.push({
      id: id++,
      name,
      pool: `app-pool-${Math.floor(i / 50)}`,
      daemon: true,
      state,
      frames,
      wait: null,
      serving: null,
      counters: { steps: kind >= 6 && kind <= 8 ? 100 + round * 10 : 10, completed: 0, waited: 0, blocked: 0 },
      startedAtMs: 0,
    });
  }
}

export function largeLegacyResult(nodes = 100, threadsPerNode = 300, samples = 6): AnalysisResult {
  const frames = new FrameTable();
  const a = new Analyzer({ detail: true });
  for (let r = 0; r < samples; r++) {
    const round = legacyCluster({ workers: nodes - 1, handlers: 30, queues: 3, starved: true }, r);
    for (const nd of round) pad(nd, r, threadsPerNode);
    a.addRound(round.map((nd) => parseDumpText(formatDumpText(nd), { frames }).dumps[0]!));
  }
  return a.finish();
}
