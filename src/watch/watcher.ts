// `rollcall watch` as a class: every interval one synchronized round of every target (the Capturer
// `rollcall capture` uses, into memory), parsed once, then the sliding window of the last K rounds
// analyzed by the same Analyzer as `rollcall analyze`. An alert — a deadlock, or with alertOn
// 'stuck' a stuck verdict or an exhausted pool — that holds in CONFIRM_WINDOWS consecutive windows
// is counted, recorded as a bundle (the window's rounds and the HTML report), announced, and handed
// to --on-alert; then watching goes on.
//
// Rounds are processed in order, each as soon as all its captures are over, so a capture's
// timeout bounds how long a hung target can delay the verdict. A target that fails is reported
// every round it fails, counted, and tried again the next round (a JVM found by NAME=REGEX is
// followed across a restart). Work that can take long — writing a bundle, the alert command —
// runs beside the loop, bounded in number. Memory is the window, the rounds in flight (bounded)
// and maps keyed by target or pool names (bounded by the number of targets and the metric bounds).
import type { BundleTarget } from '../dumps/bundle.js';
import {
  Capturer,
  epochNowMs,
  MAX_CAPTURE_BYTES,
  MemorySink,
  PREPARE_LEAD_MS,
  sleepUntil,
  type CapturerOptions,
  type RoundResult,
  type TargetSpec,
} from '../capture/index.js';
import type { AnalyzeOptions } from '../diagnose/analyze.js';
import type { AnalysisResult, CycleStepOut, Verdict } from '../diagnose/result.js';
import { assert } from '../util/assert.js';
import { alertOf, Confirmation, CONFIRM_WINDOWS, type AlertOn } from './confirm.js';
import type { WatchMetrics } from './metrics.js';
import { describeRun, type AlertCommand } from './on-alert.js';
import type { FlightRecorder } from './recorder.js';
import { analyzeWindow, RoundParser, RoundWindow, targetAddrs, type WatchRound } from './window.js';

export const DEFAULT_WINDOW = 3;
/** Rounds captured but not yet analyzed; past this, instants are skipped until the analysis catches up. */
export const MAX_ROUNDS_IN_FLIGHT = 8;
/** Alerts whose bundle and command are still being handled; past this an alert is announced without a bundle. */
export const MAX_ALERTS_IN_FLIGHT = 4;
/** Steps of a cycle put in an event line (the bundle has all of them). */
export const MAX_EVENT_CYCLE_STEPS = 50;
/** Nodes named in a line about failed captures before the rest are counted. */
const MAX_NODES_LISTED = 5;
/** Round 0 is scheduled this far ahead, so it is prepared like every other round. */
const FIRST_ROUND_LEAD_MS = PREPARE_LEAD_MS + 20;
/** Bound on waiting for --on-alert commands when the watch stops. */
const STOP_ALERT_GRACE_MS = 5000;

/** Default capture timeout of a watch: twice the interval, within 1 to 10 s. */
export function watchCaptureTimeoutMs(intervalMs: number): number {
  return Math.min(10_000, Math.max(1000, 2 * intervalMs));
}

/** One cycle step as an event line carries it (the evidence is in the bundle). */
export type EventCycleStep = Omit<CycleStepOut, 'evidence'>;

/** An alert, as printed with --json: `{"event","at","verdict","cycle","nodes","bundle"}`. */
export interface WatchEvent {
  event: 'deadlock' | 'stuck';
  /** ISO 8601 time of the round whose window confirmed it. */
  at: string;
  verdict: Verdict;
  cycle: EventCycleStep[];
  nodes: string[];
  /** The flight-recorder bundle, or null without --out (or when it could not be written). */
  bundle: string | null;
}

/** What a processed round found (for a live status, tests and benchmarks). */
export interface RoundReport {
  round: number;
  atMs: number;
  skewMs: number;
  captured: string[];
  failed: { node: string; error: string }[];
  /** Rounds in the analyzed window (0: this round had no dump, the window was not analyzed). */
  windowRounds: number;
  /** The window's verdict; undefined when this round brought no dump (nothing new to judge). */
  verdict?: Verdict;
  /** Consecutive windows showing the alerting condition so far. */
  held: number;
  /** Parse and analysis time of the round. */
  analysisMs: number;
  result?: AnalysisResult;
  /** The round as parsed (its dumps and raw bytes); kept by the watch only while in its window. */
  parsed: WatchRound;
  /** Set when this round's window confirmed an alert. */
  alert?: 'deadlock' | 'stuck';
}

export interface WatchListener {
  /** An alert, once its bundle is written (or could not be). */
  event?(e: WatchEvent): void;
  /** A line for a person: start, targets failing and returning, verdict changes, alert commands. */
  notice?(line: string): void;
  round?(r: RoundReport): void;
}

export interface WatchOptions {
  targets: TargetSpec[];
  capturer?: Omit<CapturerOptions, 'signal'>;
  intervalMs: number;
  /** Rounds per analyzed window (--window). */
  window?: number;
  alertOn?: AlertOn;
  /** Stop after this many rounds (default: until stopped). */
  count?: number;
  /** Extra rules and node addresses for the analysis (the targets' own addresses are added). */
  analysis?: Pick<AnalyzeOptions, 'rules' | 'nodeAddrs'>;
  recorder?: FlightRecorder;
  onAlert?: AlertCommand;
  metrics?: WatchMetrics;
  listener?: WatchListener;
}

export interface WatchSummary {
  rounds: number;
  skipped: number;
  alerts: number;
}

export class Watcher {
  readonly intervalMs: number;
  readonly windowSize: number;
  readonly alertOn: AlertOn;
  private readonly capturer: Capturer;
  private readonly window: RoundWindow;
  private readonly parser = new RoundParser();
  private readonly confirmation = new Confirmation(CONFIRM_WINDOWS);
  private readonly analysis: AnalyzeOptions;
  private readonly listener: WatchListener;
  /** Consecutive failed rounds per failing target (bounded by the targets). */
  private readonly failing = new Map<string, number>();
  private readonly alertsInFlight = new Set<Promise<void>>();
  private readonly stopping = new AbortController();
  private lastVerdict: Verdict | undefined;
  private summary: WatchSummary = { rounds: 0, skipped: 0, alerts: 0 };

  constructor(private readonly options: WatchOptions) {
    assert(options.intervalMs > 0, 'a watch needs an interval above 0');
    this.intervalMs = options.intervalMs;
    this.windowSize = options.window ?? DEFAULT_WINDOW;
    this.alertOn = options.alertOn ?? 'deadlock';
    this.window = new RoundWindow(this.windowSize);
    this.capturer = new Capturer(options.targets, {
      ...options.capturer,
      timeoutMs: options.capturer?.timeoutMs ?? watchCaptureTimeoutMs(options.intervalMs),
    });
    this.analysis = {
      ...(options.analysis?.rules !== undefined ? { rules: options.analysis.rules } : {}),
      nodeAddrs: [...(options.analysis?.nodeAddrs ?? []), ...targetAddrs(this.capturer.targets)],
    };
    this.listener = options.listener ?? {};
    options.metrics?.targets(this.capturer.targets.map((t) => t.name));
  }

  get targets(): readonly BundleTarget[] {
    return this.capturer.targets;
  }

  /**
   * Asks the watch to stop: no new round starts; the rounds in flight finish (each within its
   * capture timeout) unless `cut`, which cuts them off at once. run() then resolves.
   */
  stop(cut = false): void {
    this.stopping.abort();
    if (cut) void this.capturer.close();
  }

  /** Watches until stop() or `count` rounds; resolves once everything it started has ended. */
  async run(): Promise<WatchSummary> {
    const stop = this.stopping.signal;
    const inFlight = new Set<Promise<void>>();
    let chain: Promise<void> = Promise.resolve();
    try {
      await this.capturer.open();
      const t0 = Math.ceil(epochNowMs()) + FIRST_ROUND_LEAD_MS;
      const leadMs = Math.min(PREPARE_LEAD_MS, this.intervalMs / 2);
      const count = this.options.count ?? Number.POSITIVE_INFINITY;
      for (let k = 0; k < count && !stop.aborted; k++) {
        // Behind (a long analysis, a stalled machine): skip to the next instant still ahead.
        const due = Math.ceil((epochNowMs() + 1 - t0) / this.intervalMs);
        if (due > k) {
          const skipped = Math.min(due, count) - k;
          this.summary.skipped += skipped;
          this.options.metrics?.skippedRounds(skipped);
          k = due;
          if (k >= count) break;
        }
        const atMs = t0 + k * this.intervalMs;
        await sleepUntil(atMs - leadMs, stop);
        if (stop.aborted) break;
        if (inFlight.size >= MAX_ROUNDS_IN_FLIGHT) {
          this.summary.skipped++;
          this.options.metrics?.skippedRounds(1);
          continue;
        }
        const handle = this.capturer.round(k, atMs, new MemorySink(), leadMs);
        const processed = (chain = chain.then(() => handle.done).then((r) => this.processSafely(r)));
        inFlight.add(processed);
        void processed.finally(() => inFlight.delete(processed));
      }
      await chain;
    } finally {
      await this.capturer.close();
      await chain.catch(() => undefined);
      await Promise.allSettled([...this.alertsInFlight]);
      await this.options.onAlert?.close(STOP_ALERT_GRACE_MS);
    }
    return { ...this.summary };
  }

  /** A round whose analysis throws is reported, and the watch goes on with the next. */
  private processSafely(result: RoundResult): void {
    try {
      this.process(result);
    } catch (err) {
      this.listener.notice?.(`round ${result.round.round}: not analyzed: ${(err as Error).message}`);
    }
  }

  /** One finished round: parse, window, analyze, metrics, confirmation, and an alert if confirmed. */
  private process(result: RoundResult): void {
    const started = performance.now();
    const round = this.parser.parse(result);
    this.summary.rounds++;
    const captured = round.dumps.map((d) => d.node);
    this.options.metrics?.round(
      round.info.skewMs,
      captured,
      round.failed.map((f) => f.node),
    );
    this.reportTargets(round);
    const report: RoundReport = {
      round: round.round,
      atMs: round.info.scheduledAt,
      skewMs: round.info.skewMs,
      captured,
      failed: round.failed,
      windowRounds: 0,
      held: this.confirmation.held,
      analysisMs: 0,
      parsed: round,
    };
    // A round with no dump at all is no evidence either way: the verdict and the confirmation stand.
    if (round.dumps.length > 0) {
      this.window.push(round);
      if (this.parser.renewIfFull()) for (const r of this.window.rounds) this.parser.reparse(r);
      const result = analyzeWindow(this.window.rounds, this.analysis);
      const analysisMs = performance.now() - started;
      this.options.metrics?.analysis(result, analysisMs / 1000);
      this.noteVerdict(result, round.round);
      // A window counts toward an alert once it has two samples (or is as long as --window allows):
      // one sample cannot tell a wait that lasts from one that is passing.
      const full = this.window.length >= Math.min(2, this.windowSize);
      const alert = full ? alertOf(result, this.alertOn) : undefined;
      const fire = this.confirmation.observe(alert !== undefined);
      Object.assign(report, {
        windowRounds: this.window.length,
        verdict: result.verdict,
        held: this.confirmation.held,
        analysisMs,
        result,
      });
      if (fire && alert !== undefined) {
        report.alert = alert;
        this.raise(alert, result, round);
      }
    }
    this.listener.round?.(report);
  }

  /** Failing targets each round they fail, and once when they answer again. */
  private reportTargets(round: WatchRound): void {
    if (round.failed.length > 0) {
      const listed = round.failed.slice(0, MAX_NODES_LISTED).map((f) => `${f.node}: ${f.error}`);
      const more = round.failed.length > listed.length ? `; and ${round.failed.length - listed.length} more` : '';
      this.listener.notice?.(
        `round ${round.round}: ${round.failed.length} of ${round.records.length} targets not captured — ${listed.join('; ')}${more}`,
      );
    }
    for (const f of round.failed) this.failing.set(f.node, (this.failing.get(f.node) ?? 0) + 1);
    for (const d of round.dumps) {
      const n = this.failing.get(d.node);
      if (n === undefined) continue;
      this.failing.delete(d.node);
      this.listener.notice?.(`round ${round.round}: ${d.node} captured again after ${n} failed round(s)`);
    }
  }

  private noteVerdict(result: AnalysisResult, round: number): void {
    if (result.verdict === this.lastVerdict) return;
    const from = this.lastVerdict;
    this.lastVerdict = result.verdict;
    if (from === undefined && result.verdict === 'healthy') return;
    this.listener.notice?.(
      `round ${round}: verdict ${from !== undefined ? `${from} → ` : ''}${result.verdict} (${result.reason})`,
    );
  }

  /** Counts the alert, then records, announces and hands it on beside the loop. */
  private raise(alert: 'deadlock' | 'stuck', result: AnalysisResult, round: WatchRound): void {
    this.summary.alerts++;
    this.options.metrics?.alert(alert);
    const event: WatchEvent = {
      event: alert,
      at: new Date(round.info.scheduledAt).toISOString(),
      verdict: result.verdict,
      cycle: eventCycle(result),
      nodes: alertNodes(result),
      bundle: null,
    };
    if (this.alertsInFlight.size >= MAX_ALERTS_IN_FLIGHT) {
      this.listener.notice?.(`${MAX_ALERTS_IN_FLIGHT} alerts still being recorded: this one gets no bundle`);
      this.listener.event?.(event);
      this.runCommand(event);
      return;
    }
    // The window as it is now; the loop moves on while the bundle is written.
    const rounds = [...this.window.rounds];
    const task = this.record(event, rounds, round.info.scheduledAt);
    this.alertsInFlight.add(task);
    void task.finally(() => this.alertsInFlight.delete(task));
  }

  /**
   * Writes the bundle, announces the alert (with the bundle's path, or null when it could not be
   * written), adds the HTML report to the bundle, then runs --on-alert.
   */
  private async record(event: WatchEvent, rounds: WatchRound[], atMs: number): Promise<void> {
    const recorder = this.options.recorder;
    let bundle: string | undefined;
    if (recorder !== undefined) {
      try {
        bundle = await recorder.record({
          atMs,
          verdict: event.event,
          targets: this.capturer.targets,
          intervalMs: this.intervalMs,
          timeoutMs: this.capturer.timeoutMs,
          maxBytes: this.options.capturer?.maxBytes ?? MAX_CAPTURE_BYTES,
          rounds,
          event,
        });
      } catch (err) {
        this.listener.notice?.(`cannot write the alert's bundle in ${recorder.dir}: ${(err as Error).message}`);
      }
    }
    const announced = { ...event, bundle: bundle ?? null };
    this.listener.event?.(announced);
    if (recorder !== undefined && bundle !== undefined) {
      try {
        // The report draws the graph and every stack: the same window analyzed with detail.
        const detailed = analyzeWindow(rounds, { ...this.analysis, detail: true });
        await recorder.report(
          bundle,
          detailed,
          `rollcall watch — ${event.event} at ${event.at}`,
          `recorded by rollcall watch · ${rounds.length} rounds every ${this.intervalMs} ms`,
        );
      } catch (err) {
        this.listener.notice?.(`cannot write the report of ${bundle}: ${(err as Error).message}`);
      }
    }
    this.runCommand(announced);
  }

  /** Hands the alert to --on-alert, beside the loop. */
  private runCommand(event: WatchEvent): void {
    const command = this.options.onAlert;
    if (command === undefined) return;
    const run = command.run({
      event: event.event,
      verdict: event.verdict,
      bundle: event.bundle,
      nodes: event.nodes,
      json: JSON.stringify(event),
    });
    if (run === undefined) {
      this.listener.notice?.(`--on-alert not run: ${command.busy} earlier runs are still going`);
      return;
    }
    void run.then((r) =>
      this.listener.notice?.(
        `--on-alert: ${describeRun(r)}${r.logFile !== undefined ? ` (output in ${r.logFile})` : ''}`,
      ),
    );
  }
}

/** The first deadlock's cycle, without evidence, bounded. */
function eventCycle(result: AnalysisResult): EventCycleStep[] {
  const d = result.deadlocks[0];
  if (d === undefined) return [];
  return d.cycle.slice(0, MAX_EVENT_CYCLE_STEPS).map(({ evidence: _evidence, ...step }) => step);
}

/** Nodes an alert concerns: those of its deadlocks, else of its stuck threads and exhausted pools. */
function alertNodes(result: AnalysisResult): string[] {
  const nodes = new Set<string>();
  if (result.deadlocks.length > 0) for (const d of result.deadlocks) for (const n of d.nodes) nodes.add(n);
  else {
    for (const s of result.stuck) nodes.add(s.node);
    for (const p of result.pools) if (p.exhausted) nodes.add(p.node);
  }
  return [...nodes].sort();
}
