import { performance } from 'node:perf_hooks';
import type { Clock, TimerHandle } from '../types.js';

export class RealClock implements Clock {
  nowMs(): number {
    return performance.now();
  }
  wallMs(): number {
    return Date.now();
  }
  setTimer(delayMs: number, fn: () => void): TimerHandle {
    const t = setTimeout(fn, Math.max(0, delayMs));
    // A pending protocol timer must not keep a CLI process alive after its work is done.
    t.unref?.();
    return { cancel: () => clearTimeout(t) };
  }
}
