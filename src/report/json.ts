// `rollcall analyze --json`: the contract fields first, in the documented order, then the extras.
// `detail` (every thread's stacks per sample, the graph) is large and only included when asked.
import type { AnalysisResult } from '../diagnose/result.js';

export interface JsonReportOptions {
  /** Include `detail` (per-thread stacks per sample, the wait-for graph). Default false. */
  detail?: boolean;
  /** Extra top-level fields (the CLI adds `unparsed`). */
  extra?: Record<string, unknown>;
  /** Indentation; 0 for one line. Default 2. */
  indent?: number;
}

/** The object `--json` prints (contract field order preserved). */
export function analysisJson(result: AnalysisResult, options: JsonReportOptions = {}): Record<string, unknown> {
  const out: Record<string, unknown> = {
    verdict: result.verdict,
    samples: result.samples,
    spanMs: result.spanMs,
    nodes: result.nodes,
    threads: result.threads,
    pools: result.pools,
    stuck: result.stuck,
    deadlocks: result.deadlocks,
    reason: result.reason,
    stuckTotal: result.stuckTotal,
    waiting: result.waiting,
    waitingTotal: result.waitingTotal,
    notes: result.notes,
    ...(result.explanations !== undefined ? { explanations: result.explanations } : {}),
    hotThreads: result.hotThreads ?? [],
    ...(result.predictions !== undefined ? { predictions: result.predictions } : {}),
    ...options.extra,
  };
  if (options.detail === true && result.detail !== undefined) out['detail'] = result.detail;
  return out;
}

export function renderJson(result: AnalysisResult, options: JsonReportOptions = {}): string {
  return JSON.stringify(analysisJson(result, options), null, options.indent ?? 2) + '\n';
}
