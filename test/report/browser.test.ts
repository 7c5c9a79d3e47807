// The HTML report in a real browser (Debian's Chromium through playwright-core): a real legacy-mode
// hang captured from an in-process cluster over TCP (master, worker-1…: real node names), analyzed
// by `rollcall analyze BUNDLE --html`, opened from file://. Checks the graph, the heatmap, the
// thread drill-down, the side panel, and that the page makes no request but its own file. Saves a
// screenshot: docs/report.png when it is missing or ROLLCALL_UPDATE_SCREENSHOT=1 (the layout
// varies from run to run, so a test run must not dirty the checkout), else a temporary file.
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.js';
import { renderHtmlReport } from '../../src/report/html/index.js';
import { captureLegacyHang } from './legacy-capture.js';
import { largeLegacyResult } from './large-fixture.js';
import { requireTool } from '../support/environment.js';

const CHROMIUM = '/usr/bin/chromium';
type Win = { getComputedStyle(el: unknown): { stroke: string } };
const haveChromium = requireTool(
  'Chromium for the HTML report test',
  existsSync(CHROMIUM),
  `${CHROMIUM} not found; install Debian's chromium (.ci/setup-system does it with apt-get when run as root)`,
);

const DOCS_PNG = fileURLToPath(new URL('../../docs/report.png', import.meta.url));
const WORKERS = 40;
const HANDLERS = 30;
const ROUNDS = 3;

async function quietMain(args: string[]): Promise<{ code: number; stdout: string }> {
  let stdout = '';
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => {
    stdout += String(s);
    return true;
  });
  const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  try {
    return { code: await main(['node', 'rollcall', ...args]), stdout };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}

describe.skipIf(!haveChromium)('HTML report in Chromium', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'rollcall-browser-'));
  let ctx: BrowserContext;
  let reportUrl: string;
  let nodes: string[];

  beforeAll(async () => {
    const cap = await captureLegacyHang({
      out: join(tmp, 'bundle'),
      workers: WORKERS,
      handlers: HANDLERS,
      rounds: ROUNDS,
    });
    nodes = cap.nodes;
    const file = join(tmp, 'report.html');
    const { code, stdout } = await quietMain(['analyze', cap.bundle, '--html', file]);
    expect(code).toBe(0);
    expect(stdout).toContain(`HTML report: ${file}`);
    reportUrl = pathToFileURL(file).href;
    // A fresh profile, and every background service off: the only traffic is the page's own.
    ctx = await chromium.launchPersistentContext(join(tmp, 'profile'), {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
      viewport: { width: 1400, height: 900 },
    });
  }, 60_000);

  afterAll(async () => {
    await ctx?.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  /** Opens a page recording every request and every error. */
  async function open(url: string): Promise<{ page: Page; requests: string[]; errors: string[] }> {
    const page = await ctx.newPage();
    const requests: string[] = [];
    const errors: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') errors.push(m.text());
    });
    const t0 = performance.now();
    await page.goto(url, { waitUntil: 'load' });
    console.log(`opened ${url.split('/').pop()} in ${(performance.now() - t0).toFixed(0)} ms`);
    return { page, requests, errors };
  }

  it('renders the graph, the heatmap and the drill-down, with no request but its own file', async () => {
    const { page, requests, errors } = await open(reportUrl);
    try {
      await expect(page.locator('.verdict-word').textContent()).resolves.toBe('deadlock');

      // The graph: an SVG whose process clusters carry the real node names, with cycle edges marked.
      const svg = page.locator('#graph-svg');
      await svg.waitFor({ state: 'visible' });
      const names = await page.locator('#graph-svg .cluster-name').allTextContents();
      expect(names).toContain('master');
      expect(names.some((n) => /^worker-\d+$/.test(n))).toBe(true);
      for (const n of names) expect(nodes).toContain(n);
      const svgText = (await svg.textContent()) ?? '';
      expect(svgText).toMatch(/default 30\/30 busy/);
      expect(svgText).toMatch(/worker-\d+ in rolllog/);
      const cycle = page.locator('#graph-svg .edge.cycle');
      expect(await cycle.count()).toBeGreaterThanOrEqual(3);
      // The tests compile without the DOM library: reach the window through globalThis.
      const stroke = (sel: string) =>
        page
          .locator(sel)
          .first()
          .evaluate((el) => (globalThis as unknown as Win).getComputedStyle(el).stroke);
      const cycleStroke = await stroke('#graph-svg .edge.cycle .line');
      expect(cycleStroke).not.toBe(await stroke('#graph-svg .edge:not(.cycle) .line'));
      expect(cycleStroke).toBe('rgb(224, 34, 27)');
      // Evidence on hover: every edge has a <title>.
      expect(await page.locator('#graph-svg .edge.cycle > title').first().textContent()).toMatch(/\S/);

      // The heatmap: exactly one cell per node × sample.
      const cells = await page
        .locator('table.heatmap td.cell')
        .evaluateAll((tds) => tds.map((td) => `${td.getAttribute('data-node')}#${td.getAttribute('data-sample')}`));
      expect(cells).toHaveLength(nodes.length * ROUNDS);
      expect(new Set(cells)).toEqual(new Set(nodes.flatMap((n) => [0, 1, 2].map((s) => `${n}#${s}`))));

      // Screenshot of the page as it opens (verdict and graph).
      const shot =
        !existsSync(DOCS_PNG) || process.env['ROLLCALL_UPDATE_SCREENSHOT'] === '1' ? DOCS_PNG : join(tmp, 'report.png');
      mkdirSync(join(shot, '..'), { recursive: true });
      await page.screenshot({ path: shot, fullPage: false });
      expect(statSync(shot).size).toBeGreaterThan(20_000);
      console.log(`screenshot: ${shot}`);

      // Clicking a thread shows its stack in every sample, side by side.
      const row = page.locator('#thread-rows tr.thread-row', { hasText: 'handler=0,' }).first();
      const threadName = (await row.locator('td.name').evaluate((td) => td.firstChild?.textContent ?? '')).trim();
      expect(threadName).toMatch(/^RpcServer\.default\.FPBQ\.Fifo\.handler=0,/);
      await row.click();
      const detail = page.locator('#thread-detail');
      await expect(detail.locator('h3').textContent()).resolves.toBe(threadName);
      expect(await detail.locator('table.stacks thead th').count()).toBe(ROUNDS);
      expect(await detail.locator('table.stacks tbody tr').count()).toBeGreaterThanOrEqual(2);
      expect(await detail.locator('table.stacks tbody').textContent()).toMatch(/Procedure\.waitForCompleted/);

      // A box in the graph opens the side panel with its evidence, and leads to its stacks.
      const vertex = page.locator('#graph-svg .vertex.cycle[data-thread]').first();
      await vertex.click();
      const panel = page.locator('#panel');
      await panel.waitFor({ state: 'visible' });
      expect(await panel.locator('h3').first().textContent()).toMatch(/\S/);
      expect(await panel.locator('ul.evidence li').count()).toBeGreaterThan(0);
      expect(await panel.textContent()).toMatch(/Waits for/);
      await panel.getByText('show its stack in every sample').click();
      const label = (await panel.locator('h3').first().textContent())!;
      await expect(detail.locator('h3').textContent()).resolves.toBe(label);
      await page.keyboard.press('Escape');
      await panel.waitFor({ state: 'hidden' });
      // So does an arrow: the wait and its evidence lines.
      await page.locator('#graph-svg .edge.cycle').first().dispatchEvent('click');
      await panel.waitFor({ state: 'visible' });
      expect(await panel.locator('h3').first().textContent()).toMatch(/^Wait: .+ → .+/);
      expect(await panel.locator('.tag.cycle').count()).toBe(1);
      expect(await panel.locator('ul.evidence li').count()).toBeGreaterThan(0);
      await page.locator('#panel-close').click();
      await panel.waitFor({ state: 'hidden' });

      // A heatmap cell filters the thread list to that node.
      await page.locator('table.heatmap td.cell[data-node="worker-2"][data-sample="1"]').click();
      const listed = await page.locator('#thread-rows tr.thread-row td.node').allTextContents();
      expect(listed.length).toBeGreaterThan(0);
      expect(new Set(listed)).toEqual(new Set(['worker-2']));
      await expect(page.locator('#node-chip').isVisible()).resolves.toBe(true);

      // Search narrows the list.
      await page.locator('#node-chip button').click();
      await page.locator('#thread-search').fill('subprocedure');
      const found = await page.locator('#thread-rows tr.thread-row td.name').allTextContents();
      expect(found.length).toBe(WORKERS);

      expect(errors).toEqual([]);
      expect(requests).toEqual([reportUrl]);
    } finally {
      await page.close();
    }
  });

  // How soon it is usable is a figure (npm run bench:report -- --browser), not an assertion.
  it('marks the frames that change between samples, and pages its rows at 100 nodes × 300 threads', async () => {
    const file = join(tmp, 'large.html');
    writeFileSync(file, renderHtmlReport(largeLegacyResult(100, 300, 6)));
    const url = pathToFileURL(file).href;
    const { page, requests, errors } = await open(url);
    try {
      await page.locator('#thread-rows tr.thread-row').first().waitFor();
      expect(await page.locator('table.heatmap td.cell').count()).toBe(600);
      // The list renders a page of rows, not 30,000.
      expect(await page.locator('#thread-rows tr.thread-row').count()).toBeLessThanOrEqual(200);
      // A working thread: its stack changes every sample; shared outer frames are not marked.
      await page.locator('#thread-search').fill('w7 app-pool-0-thread-16');
      await page.locator('#thread-rows tr.thread-row').first().click();
      const detail = page.locator('#thread-detail table.stacks');
      expect(await detail.locator('thead th').count()).toBe(6);
      expect(await detail.locator('tbody tr.chg').count()).toBeGreaterThan(0);
      expect(await detail.locator('tbody tr:not(.chg)').last().textContent()).toContain('java.lang.Thread.run');
      expect(errors).toEqual([]);
      expect(requests).toEqual([url]);
    } finally {
      await page.close();
    }
  });
});
