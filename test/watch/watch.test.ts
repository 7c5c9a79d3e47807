// The watch loop over real HTTP targets serving rollcall dumps the test switches between a healthy
// cluster and the legacy hang: one alert per incident, confirmed in two consecutive windows (so at
// most 3 rounds after the first round that shows the cycle), a bundle `rollcall analyze` agrees
// with, --on-alert told about it, --keep honoured, metrics a Prometheus parser reads; targets that
// die, hang and come back; and stopping. Rounds are counted, never timed.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Verdict } from '../../src/diagnose/index.js';
import {
  AlertCommand,
  FlightRecorder,
  WatchMetrics,
  Watcher,
  analyzeWindow,
  startMetricsServer,
  type RoundReport,
  type WatchEvent,
  type WatchOptions,
} from '../../src/watch/index.js';
import { runCli } from '../support/cli.js';
import { tempDirs } from '../support/tempdir.js';
import { until } from '../support/gate.js';
import { sample, scrape } from '../support/prometheus.js';
import { startCannedNodes, type CannedNodes } from './canned.js';

// Registered before the cleanups below: vitest runs after-hooks last-registered first, so a watch
// is stopped before its directory goes.
const tempDir = tempDirs('rollcall-watch');
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

interface Seen extends RoundReport {
  /** The verdict of this round's sample alone (a cycle in one sample is a deadlock). */
  oneSample?: Verdict;
}

/** A running watch over canned nodes, with everything it reported. */
async function watch(nodes: CannedNodes, options: Partial<WatchOptions> = {}) {
  const reports: Seen[] = [];
  const events: WatchEvent[] = [];
  const notices: string[] = [];
  const metrics = new WatchMetrics();
  const server = await startMetricsServer(metrics, '127.0.0.1', 0);
  cleanups.push(() => server.close());
  const watcher = new Watcher({
    targets: nodes.targets,
    intervalMs: 100,
    metrics,
    ...options,
    listener: {
      round: (r) =>
        reports.push({ ...r, ...(r.parsed.dumps.length > 0 ? { oneSample: analyzeWindow([r.parsed]).verdict } : {}) }),
      event: (e) => events.push(e),
      notice: (l) => notices.push(l),
    },
  });
  const run = watcher.run();
  cleanups.push(async () => {
    watcher.stop(true);
    await run;
  });
  return { watcher, run, reports, events, notices, metricsUrl: server.url };
}

describe('rollcall watch over live targets', () => {
  it('alerts once per deadlock, within 3 rounds of the first round that shows it, with a bundle analyze agrees with', async () => {
    const nodes = await startCannedNodes(6);
    cleanups.push(() => nodes.close());
    const out = join(tempDir(), 'rec');
    const recorder = new FlightRecorder(out, 1);
    await recorder.open();
    const onAlert = new AlertCommand(
      'echo "verdict=$ROLLCALL_VERDICT event=$ROLLCALL_EVENT nodes=$ROLLCALL_NODES bundle=$ROLLCALL_BUNDLE"; echo "$ROLLCALL_EVENT_JSON"; echo oops >&2',
    );
    const w = await watch(nodes, { recorder, onAlert, window: 3 });

    // Healthy: rounds go by, no event, verdict healthy in the metrics.
    await until(() => w.reports.length >= 5, 'five healthy rounds', 20_000);
    expect(w.reports.map((r) => r.verdict)).toEqual(w.reports.map(() => 'healthy'));
    let m = await scrape(w.metricsUrl);
    expect(sample(m, 'rollcall_watch_verdict', { verdict: 'healthy' })).toBe(1);
    expect(sample(m, 'rollcall_watch_verdict', { verdict: 'deadlock' })).toBe(0);
    expect(sample(m, 'rollcall_watch_rounds_total')).toBeGreaterThanOrEqual(5);
    expect(sample(m, 'rollcall_watch_capture_errors_total', { node: 'w3' })).toBe(0);
    expect(sample(m, 'rollcall_watch_capture_skew_seconds')).toBeGreaterThanOrEqual(5);
    expect(sample(m, 'rollcall_watch_alerts_total', { verdict: 'deadlock' })).toBe(0);
    expect(w.events).toEqual([]);

    // The hang forms: one event, at most 3 rounds after the first round showing the cycle.
    const from = w.reports.length;
    nodes.set('deadlock');
    await until(() => w.events.length === 1, 'the deadlock event', 20_000);
    const first = w.reports.findIndex((r, i) => i >= from && r.oneSample === 'deadlock');
    const alerted = w.reports.findIndex((r) => r.alert !== undefined);
    expect(first).toBeGreaterThanOrEqual(from);
    expect(alerted - first).toBeLessThanOrEqual(3);
    expect(w.reports[alerted]!.alert).toBe('deadlock');
    const e = w.events[0]!;
    expect(Object.keys(e)).toEqual(['event', 'at', 'verdict', 'cycle', 'nodes', 'bundle']);
    expect(e).toMatchObject({ event: 'deadlock', verdict: 'deadlock' });
    expect(new Date(e.at).getTime()).toBe(Math.round(w.reports[alerted]!.atMs));
    expect(e.nodes).toContain('master');
    expect(e.nodes.some((n) => /^w\d$/.test(n))).toBe(true);
    expect(e.cycle.length).toBeGreaterThan(1);
    for (const step of e.cycle) {
      expect(step.node).toBeTruthy();
      expect(step.waitsFor).toBeTruthy();
      expect(step).not.toHaveProperty('evidence');
    }

    // The bundle: the window's rounds, analyzed by `rollcall analyze` to the same verdict.
    expect(e.bundle).not.toBeNull();
    const bundle = e.bundle!;
    await until(() => w.notices.some((n) => n.startsWith('--on-alert:')), 'the --on-alert command', 20_000);
    expect(w.notices.find((n) => n.startsWith('--on-alert:'))).toMatch(/^--on-alert: exit 0 in \d+ ms \(output in /);
    expect(readdirSync(bundle).sort()).toEqual(
      expect.arrayContaining(['event.json', 'index.html', 'manifest.json', 'master', 'on-alert.log', 'w1']),
    );
    const analyzed = await runCli(['analyze', bundle, '--json']);
    expect(analyzed.code, analyzed.stderr).toBe(0);
    const result = JSON.parse(analyzed.stdout) as { verdict: string; samples: number };
    expect(result).toMatchObject({ verdict: 'deadlock', samples: 3 });
    expect(readFileSync(join(bundle, 'index.html'), 'utf8')).toContain('<svg');
    expect(JSON.parse(readFileSync(join(bundle, 'event.json'), 'utf8'))).toMatchObject({ event: 'deadlock' });
    // --on-alert got the bundle and verdict in its environment; its output is kept with the bundle.
    const log = readFileSync(join(bundle, 'on-alert.log'), 'utf8');
    expect(log).toContain(`verdict=deadlock event=deadlock nodes=${e.nodes.join(',')} bundle=${bundle}`);
    expect(log).toContain('"event":"deadlock"');
    expect(log).toContain('oops');
    expect(log).toMatch(/\[exit 0 in \d+ ms\]/);

    m = await scrape(w.metricsUrl);
    expect(sample(m, 'rollcall_watch_alerts_total', { verdict: 'deadlock' })).toBe(1);
    expect(sample(m, 'rollcall_watch_verdict', { verdict: 'deadlock' })).toBe(1);
    expect(sample(m, 'rollcall_watch_verdict', { verdict: 'healthy' })).toBe(0);
    expect(sample(m, 'rollcall_pool_size', { node: 'master', pool: 'default' })).toBe(nodes.handlers);
    expect(sample(m, 'rollcall_pool_threads', { node: 'master', pool: 'default', state: 'busy' })).toBe(nodes.handlers);
    expect(sample(m, 'rollcall_pool_threads', { node: 'master', pool: 'default', state: 'blocked' })).toBeGreaterThan(
      0,
    );
    expect(sample(m, 'rollcall_threads', { node: 'master', state: 'blocked' })).toBeGreaterThan(0);

    // Still deadlocked three rounds later: still one event.
    const later = w.reports.length + 3;
    await until(() => w.reports.length >= later, 'three more rounds', 20_000);
    expect(w.reports.slice(alerted + 1).every((r) => r.alert === undefined)).toBe(true);
    expect(w.events).toHaveLength(1);

    // Healthy again, then a second incident: a second event, and --keep 1 leaves its bundle only.
    nodes.set('healthy');
    const healed = w.reports.length;
    await until(() => w.reports.slice(healed).some((r) => r.verdict === 'healthy'), 'healthy again', 20_000);
    nodes.set('deadlock');
    await until(() => w.events.length === 2, 'the second deadlock event', 20_000);
    await until(() => w.notices.filter((n) => n.startsWith('--on-alert:')).length === 2, 'the second command', 20_000);
    expect(readdirSync(out)).toEqual([basename(w.events[1]!.bundle!)]);
    expect(existsSync(bundle)).toBe(false);
    m = await scrape(w.metricsUrl);
    expect(sample(m, 'rollcall_watch_alerts_total', { verdict: 'deadlock' })).toBe(2);

    w.watcher.stop();
    expect(await w.run).toMatchObject({ alerts: 2 });
  }, 60_000);

  it('reports a dead target every round without stopping, and picks it up again when it returns', async () => {
    const nodes = await startCannedNodes(4);
    cleanups.push(() => nodes.close());
    const w = await watch(nodes);
    await until(() => w.reports.length >= 2, 'two rounds', 20_000);
    await nodes.down('w2');
    const downFrom = w.reports.length;
    await until(
      () => w.reports.slice(downFrom).filter((r) => r.failed.some((f) => f.node === 'w2')).length >= 3,
      'three rounds without w2',
      20_000,
    );
    const failing = w.reports.slice(downFrom).filter((r) => r.failed.some((f) => f.node === 'w2'));
    // Each failed round is reported (with the reason) and the others are still analyzed.
    for (const r of failing) {
      expect(w.notices).toContainEqual(
        expect.stringMatching(new RegExp(`^round ${r.round}: 1 of 5 targets not captured — w2: .*ECONNREFUSED`)),
      );
      expect(r.captured).toEqual(['master', 'w1', 'w3', 'w4']);
      expect(r.verdict).toBe('healthy');
    }
    let m = await scrape(w.metricsUrl);
    expect(sample(m, 'rollcall_watch_target_up', { node: 'w2' })).toBe(0);
    expect(sample(m, 'rollcall_watch_target_up', { node: 'w1' })).toBe(1);
    expect(sample(m, 'rollcall_watch_capture_errors_total', { node: 'w2' })).toBeGreaterThanOrEqual(failing.length);

    await nodes.up('w2');
    await until(
      () => w.notices.some((n) => /w2 captured again after \d+ failed round\(s\)$/.test(n)),
      'w2 back',
      20_000,
    );
    m = await scrape(w.metricsUrl);
    expect(sample(m, 'rollcall_watch_target_up', { node: 'w2' })).toBe(1);

    // A target that accepts and never answers: cut at the capture timeout each time, reported, not fatal.
    nodes.hang('w3');
    const hangFrom = w.reports.length;
    await until(
      () => w.reports.slice(hangFrom).filter((r) => r.failed.some((f) => f.node === 'w3')).length >= 2,
      'w3 failing',
      20_000,
    );
    const errors = w.reports
      .slice(hangFrom)
      .flatMap((r) => r.failed.filter((f) => f.node === 'w3').map((f) => f.error));
    expect(errors.some((x) => /timed out after 1000 ms|skipped: the previous capture/.test(x))).toBe(true);
    expect(w.reports.slice(hangFrom).every((r) => r.verdict === 'healthy')).toBe(true);
    expect(w.events).toEqual([]);
  }, 60_000);

  it('stops: after the round in flight, or at once when asked to cut it', async () => {
    const nodes = await startCannedNodes(2);
    cleanups.push(() => nodes.close());
    const w = await watch(nodes, { capturer: { timeoutMs: 600_000 } });
    await until(() => w.reports.length >= 1, 'a round', 20_000);
    // A target that never answers holds its round open for the (ten-minute) capture timeout;
    // cutting ends the watch anyway.
    nodes.hang('w1');
    const served = nodes.served('master');
    await until(() => nodes.served('master') > served + 1, 'a round in flight on the hung target', 20_000);
    w.watcher.stop(true);
    const summary = await w.run;
    expect(summary.rounds).toBe(w.reports.length);
    const cut = w.reports.flatMap((r) => r.failed).filter((f) => f.node === 'w1');
    expect(cut.map((f) => f.error)).toContain('capture cancelled');

    // Without cutting, the round in flight finishes and nothing after it starts.
    await nodes.up('w1');
    const again = await watch(nodes);
    await until(() => again.reports.length >= 2, 'two rounds', 20_000);
    again.watcher.stop();
    const s = await again.run;
    expect(s.rounds).toBe(again.reports.length);
    // Nothing was cut (a loaded machine may still time a capture out: that is not this test's point).
    expect(again.reports.flatMap((r) => r.failed).filter((f) => f.error === 'capture cancelled')).toEqual([]);
  }, 60_000);
});
