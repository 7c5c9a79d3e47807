// Confirm before acting. One window can catch a moment that only looks stuck (every handler busy in
// three samples by chance); a deadlock or a stuck pool still there one round later, in the next
// window, is not chance. So an alert needs its condition in `needed` consecutive windows, fires
// once, and is re-armed only by a window without it — an incident is one event, not one per round.
import type { AnalysisResult } from '../diagnose/result.js';
import { assert } from '../util/assert.js';

/** What raises an alert: a deadlock only, or also a stuck verdict or an exhausted pool. */
export type AlertOn = 'deadlock' | 'stuck';
export const ALERT_ON: readonly AlertOn[] = ['deadlock', 'stuck'];
/** Consecutive windows an alerting condition must hold in. */
export const CONFIRM_WINDOWS = 2;

/** The alert a window's analysis calls for, if any. */
export function alertOf(result: AnalysisResult, alertOn: AlertOn): 'deadlock' | 'stuck' | undefined {
  if (result.verdict === 'deadlock') return 'deadlock';
  if (alertOn !== 'stuck') return undefined;
  if (result.verdict === 'stuck' || result.pools.some((p) => p.exhausted)) return 'stuck';
  return undefined;
}

export class Confirmation {
  private streak = 0;
  private fired = false;

  constructor(readonly needed = CONFIRM_WINDOWS) {
    assert(Number.isInteger(needed) && needed >= 1, 'an alert needs at least one window');
  }

  /** One window: whether it shows the alerting condition. True exactly when an alert must fire. */
  observe(alerting: boolean): boolean {
    if (!alerting) {
      this.streak = 0;
      this.fired = false;
      return false;
    }
    this.streak = Math.min(this.streak + 1, this.needed);
    if (this.fired || this.streak < this.needed) return false;
    this.fired = true;
    return true;
  }

  /** Windows in a row so far that showed the condition (at most `needed`). */
  get held(): number {
    return this.streak;
  }
}
