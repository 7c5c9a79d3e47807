// Real-time scheduling for the thread that releases a round. Each release wakes a JVM thread, and
// on a loaded machine the scheduler lets the woken thread preempt the releasing one: measured here
// at load 12 on 2 cores, five JVMs' requests spread over 3–13 ms per round; with the releasing
// thread under SCHED_FIFO they stay within 0.1–1 ms. So capture asks for SCHED_FIFO (lowest
// real-time priority) for Node's main thread while it runs, when the system allows it (root or
// CAP_SYS_NICE), and puts the thread back afterwards. Spinning to an instant is bounded (clock.ts
// SPIN_MS) and the kernel's real-time throttling keeps the rest of the machine running regardless.
import { spawnSync } from 'node:child_process';

/** The lowest SCHED_FIFO priority: above every normal thread, below everything real-time. */
const FIFO_PRIORITY = '1';
const CHRT_TIMEOUT_MS = 2000;

export interface Realtime {
  /** Whether the main thread now runs under SCHED_FIFO. */
  active: boolean;
  /** Why not, when it does not. */
  reason?: string;
  /** Puts the thread back under the normal policy (safe to call twice). */
  restore(): void;
}

/** Asks for SCHED_FIFO for this process's main thread through util-linux `chrt`; never throws. */
export function enterRealtime(): Realtime {
  const none = (reason: string): Realtime => ({ active: false, reason, restore: () => undefined });
  if (process.platform !== 'linux') return none('real-time scheduling is only requested on Linux');
  const pid = String(process.pid); // the main thread's id is the process id
  const r = spawnSync('chrt', ['-f', '-p', FIFO_PRIORITY, pid], { encoding: 'utf8', timeout: CHRT_TIMEOUT_MS });
  if (r.error !== undefined) return none(`chrt: ${r.error.message}`);
  if (r.status !== 0) return none(`chrt: ${(r.stderr || '').trim().split('\n')[0] || `exit ${r.status}`}`);
  let restored = false;
  return {
    active: true,
    restore: () => {
      if (restored) return;
      restored = true;
      spawnSync('chrt', ['-o', '-p', '0', pid], { stdio: 'ignore', timeout: CHRT_TIMEOUT_MS });
    },
  };
}
