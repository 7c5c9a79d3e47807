// Report and online-check speed: what tests used to assert on the wall clock, measured here as
// figures instead (tests keep the functional checks; timing assertions flake on a loaded machine).
//   - rendering the HTML report of 100 nodes × 300 threads × 6 samples, and of 300 JVM deadlocks;
//   - the online deadlock check over 300 live node dumps (it runs every 250 ms);
//   - with --browser (Debian's chromium): time until that large report is usable.
// usage: npm run bench:report -- [--json] [--browser]
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Analyzer } from '../src/diagnose/index.js';
import { OnlineDeadlockDetector } from '../src/detect/index.js';
import { parseDumpFileSync } from '../src/dumps/index.js';
import { renderHtmlReport } from '../src/report/html/index.js';
import { legacyCluster } from '../test/diagnose/rollcall-cluster.js';
import { largeLegacyResult } from '../test/report/large-fixture.js';

const CHROMIUM = '/usr/bin/chromium';
const SHARED_DEADLOCK = join(process.cwd(), '..', 'shared', 'dumps', '01-jdk6-jenkins-monitor-deadlock.txt');

function timed<T>(fn: () => T): { value: T; ms: number } {
  const t0 = performance.now();
  const value = fn();
  return { value, ms: performance.now() - t0 };
}

async function browserMs(html: string): Promise<number | undefined> {
  if (!existsSync(CHROMIUM)) return undefined;
  const { chromium } = await import('playwright-core');
  const dir = mkdtempSync(join(tmpdir(), 'rollcall-bench-report-'));
  const file = join(dir, 'large.html');
  writeFileSync(file, html);
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu'],
  });
  try {
    const page = await browser.newPage();
    const t0 = performance.now();
    await page.goto(pathToFileURL(file).href);
    await page.locator('#thread-rows tr.thread-row').first().waitFor();
    return performance.now() - t0;
  } finally {
    await browser.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const json = process.argv.includes('--json');
  const result = largeLegacyResult(100, 300, 6);
  const large = timed(() => renderHtmlReport(result));
  let deadlocksMs: number | undefined;
  if (existsSync(SHARED_DEADLOCK)) {
    const a = new Analyzer({ detail: true });
    a.addRound(
      Array.from({ length: 300 }, (_, i) => {
        const d = parseDumpFileSync(SHARED_DEADLOCK, {}).dumps[0]!;
        d.node = `jvm-${i + 1}`;
        return d;
      }),
    );
    const r = a.finish();
    deadlocksMs = timed(() => renderHtmlReport(r)).ms;
  }
  const dumps = legacyCluster({ workers: 300, handlers: 30, queues: 3, starved: true }, 0);
  const det = new OnlineDeadlockDetector();
  for (let i = 0; i < 3; i++) det.check(dumps); // warm up the JIT
  const online = timed(() => {
    for (let i = 0; i < 5; i++) det.check(dumps);
  });
  const browser = process.argv.includes('--browser') ? await browserMs(large.value) : undefined;
  const report = {
    htmlLargeMs: Math.round(large.ms),
    htmlLargeKiB: Math.round(large.value.length / 1024),
    ...(deadlocksMs !== undefined ? { html300DeadlocksMs: Math.round(deadlocksMs) } : {}),
    onlineCheck300NodesMs: Math.round((online.ms / 5) * 10) / 10,
    ...(browser !== undefined ? { browserUsableMs: Math.round(browser) } : {}),
  };
  if (json) {
    console.log(JSON.stringify(report));
    return;
  }
  console.log(
    `HTML report, 100 nodes × 300 threads × 6 samples: ${report.htmlLargeKiB} KiB in ${report.htmlLargeMs} ms`,
  );
  if (deadlocksMs !== undefined) console.log(`HTML report of 300 JVM deadlocks: ${report.html300DeadlocksMs} ms`);
  console.log(`online deadlock check over 300 node dumps: ${report.onlineCheck300NodesMs} ms (runs every 250 ms)`);
  if (browser !== undefined) console.log(`large report usable in Chromium after ${report.browserUsableMs} ms`);
}

await main();
