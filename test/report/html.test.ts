// The HTML report as a string: what it draws (graph with cycle edges and real node names, one
// heatmap cell per node × sample), what it embeds (compact data that round-trips to the analysis),
// that dump text can never become markup, that big inputs are folded and stay small and fast,
// and `rollcall analyze --html` on the command line.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { Analyzer, type AnalysisResult } from '../../src/diagnose/index.js';
import { FrameTable, parseDumpText } from '../../src/dumps/index.js';
import { parseDumpFileSync } from '../../src/dumps/parse.js';
import {
  buildDisplayGraph,
  DEFAULT_GRAPH_LIMITS,
  renderHtmlReport,
  type ReportData,
} from '../../src/report/html/index.js';
import { formatDumpText } from '../../src/threads/index.js';
import { legacyCluster } from '../diagnose/rollcall-cluster.js';
import { largeLegacyResult } from './large-fixture.js';
import { runCli, type CliResult } from '../support/cli.js';

const SHARED = fileURLToPath(new URL('../../../shared/dumps/', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'rollcall-report-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function legacyResult(workers = 60, handlers = 30, detail = true): AnalysisResult {
  const frames = new FrameTable();
  const a = new Analyzer({ detail });
  for (const r of [0, 1, 2]) {
    const round = legacyCluster({ workers, handlers, queues: 3, starved: true }, r);
    a.addRound(round.map((nd) => parseDumpText(formatDumpText(nd), { frames }).dumps[0]!));
  }
  return a.finish();
}

function fileResult(file: string): AnalysisResult {
  const a = new Analyzer({ detail: true });
  for (const d of parseDumpFileSync(join(SHARED, file), {}).dumps) {
    d.node = 'jenkins';
    a.addRound([d]);
  }
  return a.finish();
}

function embedded(html: string): ReportData {
  const m = /<script type="application\/json" id="report-data">([\s\S]*?)<\/script>/.exec(html);
  expect(m).not.toBeNull();
  return JSON.parse(m![1]!) as ReportData;
}

const count = (html: string, re: RegExp) => (html.match(re) ?? []).length;

/** Every URL-ish reference a browser could fetch: none may point anywhere. */
function externalRefs(html: string): string[] {
  const refs = [
    ...html.matchAll(/\b(?:src|href|action|poster|data)\s*=\s*["']?([^"'\s>]+)/gi),
    ...html.matchAll(/url\(\s*["']?([^"')]+)/gi),
    ...html.matchAll(/@import\s+["']?([^"';]+)/gi),
  ].map((m) => m[1]!);
  return refs.filter((r) => !r.startsWith('#') && !r.startsWith('data:'));
}

describe('renderHtmlReport', () => {
  const result = legacyResult();
  const html = renderHtmlReport(result, { title: 'legacy hang' });

  it('shows the verdict, the graph with cycle edges and real node names, and the sections', () => {
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html).toContain('data-verdict="deadlock"');
    expect(html).toContain('<svg id="graph-svg"');
    expect(count(html, /class="edge[^"]* cycle"/g)).toBeGreaterThan(0);
    // Processes are clusters labelled with their names; the pool box carries its handler counts.
    expect(html).toMatch(/<g class="cluster" data-node="master">[\s\S]*?>master</);
    expect(html).toMatch(/<g class="cluster" data-node="w\d+">/);
    expect(html).toContain('default 30/30 busy');
    for (const id of ['verdict', 'graph', 'heatmap', 'threads', 'deadlocks', 'jvm-deadlocks', 'pools', 'stuck'])
      expect(html).toContain(`id="${id}"`);
  });

  it('has exactly one heatmap cell per node × sample', () => {
    expect(count(html, /<td class="cell[ "]/g)).toBe(result.nodes.length * result.samples);
    const pairs = [...html.matchAll(/<td class="cell[^>]*data-node="([^"]+)" data-sample="(\d+)"/g)].map(
      (m) => `${m[1]}#${m[2]}`,
    );
    expect(new Set(pairs).size).toBe(pairs.length);
  });

  it('embeds compact data that decodes back to every thread and its stack per sample', () => {
    const data = embedded(html);
    const detail = result.detail!;
    expect(data.threads).toHaveLength(detail.threads.length);
    const ns = Math.max(1, data.states.length);
    detail.threads.forEach((t, i) => {
      const row = data.threads[i]!;
      expect(data.nodes[row[0]!]).toBe(t.node);
      expect(data.names[row[1]!]).toBe(t.name);
      let packed = row.slice(5);
      if (packed.length === 1) packed = Array<number>(result.samples).fill(packed[0]!);
      t.samples.forEach((s, k) => {
        const x = packed[k]!;
        if (s === null) return expect(x).toBe(-1);
        const y = (x - (x % 2)) / 2;
        expect(data.states[y % ns]).toBe(s.state);
        expect(data.stacks[Math.floor(y / ns)]!.map((f) => data.frames[f])).toEqual(detail.stacks[s.stack]);
        expect(x % 2 === 1).toBe(s.idle);
      });
    });
  });

  it('is self-contained: no external reference, and a CSP that forbids requests', () => {
    expect(externalRefs(html)).toEqual([]);
    expect(html).toContain("default-src 'none'");
    expect(html).toContain("connect-src 'none'");
    // The SVG namespace is the only http:// string, and it is never fetched.
    expect(html.replace(/xmlns="http:\/\/www\.w3\.org\/2000\/svg"/g, '')).not.toMatch(/https?:\/\//);
  });

  it('appends extra sections, listed in the table of contents, and rejects bad anchors', () => {
    const out = renderHtmlReport(result, {
      sections: [{ id: 'latency', title: 'Fixed-mode latency', html: '<svg class="chart"></svg>' }],
    });
    expect(out).toContain(
      '<section id="latency" class="card extra-section"><h2>Fixed-mode latency</h2><svg class="chart">',
    );
    expect(out).toContain('<a href="#latency">Fixed-mode latency</a>');
    expect(out.indexOf('id="latency"')).toBeGreaterThan(out.indexOf('id="stuck"'));
    const first = renderHtmlReport(result, {
      sectionsFirst: true,
      sections: [{ id: 'story', title: 'Story', html: '<p>x</p>' }],
    });
    expect(first.indexOf('id="story"')).toBeLessThan(first.indexOf('id="graph"'));
    expect(() => renderHtmlReport(result, { sections: [{ id: 'a b"', title: 't', html: '' }] })).toThrow(/anchor/);
  });

  it('never lets dump text become markup', () => {
    const evil = '</script><img src=x onerror=alert(1)><!--';
    const r = structuredClone(result);
    r.detail!.threads[0]!.name = evil;
    for (const v of r.detail!.graph.vertices) if (v.thread === 0) v.label = evil;
    r.detail!.stacks[0]![0] = `${evil}\u2028`;
    r.nodes[0]!.name = `<b>${r.nodes[0]!.name}`;
    r.reason = evil;
    const out = renderHtmlReport(r);
    expect(out).not.toContain('<img');
    expect(out).not.toContain('<b>master');
    expect(count(out, /<\/script>/g)).toBe(2);
    const data = embedded(out);
    expect(data.names).toContain(evil);
  });

  it('renders without detail: verdict, heatmap and tables, and says what is missing', () => {
    const r = legacyResult(10, 6, false);
    const out = renderHtmlReport(r);
    expect(out).toContain('analyzed without detail');
    expect(out).not.toContain('<svg id="graph-svg"');
    expect(count(out, /<td class="cell[ "]/g)).toBe(r.nodes.length * r.samples);
    expect(out).toContain('id="stuck"');
  });

  it('a healthy dump: no graph to draw, a healthy verdict', () => {
    const out = renderHtmlReport(fileResult('06-hbase2-minicluster-stacks-servlet-format.txt'));
    expect(out).toContain('data-verdict="healthy"');
    expect(out).toContain('no wait-for edges to draw');
  });

  it('a JVM-reported monitor deadlock in one process: one cluster, the cycle, the JVM section', () => {
    const r = fileResult('01-jdk6-jenkins-monitor-deadlock.txt');
    const out = renderHtmlReport(r);
    expect(out).toContain('data-verdict="deadlock"');
    expect(count(out, /<g class="cluster"/g)).toBe(1);
    expect(count(out, /class="edge[^"]* cycle"/g)).toBeGreaterThanOrEqual(2);
    expect(out).toMatch(/id="jvm-deadlocks"[\s\S]*JVM-reported deadlocks \(1\)/);
    expect(out).toContain('reported by the JVM');
  });
});

describe('large inputs (100 nodes × 300 threads × 6 samples)', () => {
  const result = largeLegacyResult();

  it('folds the graph to a readable size, keeping every cycle vertex and sound edges', () => {
    const g = buildDisplayGraph(result);
    const source = result.detail!.graph;
    expect(source.vertices.length).toBeGreaterThan(150);
    expect(g.vertices.length).toBeLessThanOrEqual(DEFAULT_GRAPH_LIMITS.maxVertices);
    expect(g.clusters.length).toBeLessThanOrEqual(DEFAULT_GRAPH_LIMITS.maxNodes);
    // Everything is accounted for: drawn, or folded into a summary box.
    expect(g.vertices.reduce((n, v) => n + v.folded, 0)).toBe(source.vertices.length);
    const ids = new Set(g.vertices.map((v) => v.id));
    for (const e of g.edges) expect(ids.has(e.from) && ids.has(e.to) && e.from !== e.to).toBe(true);
    expect(g.edges.some((e) => e.cycle)).toBe(true);
    const cycleThreads = new Set(
      source.edges.filter((e) => e.inCycle).flatMap((e) => [e.from, e.to].map((id) => source.vertices[id]!)),
    );
    const drawnLabels = new Set(g.vertices.filter((v) => v.kind !== 'summary').map((v) => v.label));
    for (const v of cycleThreads) if (v.kind === 'thread') expect(drawnLabels.has(v.label)).toBe(true);
    expect(g.foldedNodes.length).toBe(new Set(source.vertices.map((v) => v.node)).size - g.clusters.length);
  });

  // How fast it renders is a figure (npm run bench:report), not an assertion.
  it('stays a reasonable size', () => {
    const html = renderHtmlReport(result);
    expect(html.length).toBeLessThan(3 * 1024 * 1024);
    expect(count(html, /<td class="cell[ "]/g)).toBe(100 * 6);
    expect(embedded(html).threads).toHaveLength(30_000);
  });
});

describe('many independent deadlocks (the same JVM deadlock on 300 nodes)', () => {
  it('stays bounded: cycles stretch the limits only up to a hard bound, and the rest folds', () => {
    const a = new Analyzer({ detail: true });
    const dumps = Array.from({ length: 300 }, (_, i) => {
      const d = parseDumpFileSync(join(SHARED, '01-jdk6-jenkins-monitor-deadlock.txt'), {}).dumps[0]!;
      d.node = `jvm-${i + 1}`;
      return d;
    });
    a.addRound(dumps);
    const r = a.finish();
    expect(r.deadlocks.length).toBeGreaterThanOrEqual(300);
    const g = buildDisplayGraph(r);
    expect(g.clusters.length).toBeLessThanOrEqual(DEFAULT_GRAPH_LIMITS.maxNodes * 3);
    expect(g.vertices.length).toBeLessThanOrEqual(DEFAULT_GRAPH_LIMITS.maxVertices * 3 + 1);
    expect(g.vertices.reduce((n, v) => n + v.folded, 0)).toBe(r.detail!.graph.vertices.length);
    const html = renderHtmlReport(r);
    expect(html).toContain('more nodes');
  });
});

describe('rollcall analyze --html', () => {
  function cli(...args: string[]): Promise<CliResult> {
    return runCli(['analyze', ...args]);
  }
  const dump = join(SHARED, '01-jdk6-jenkins-monitor-deadlock.txt');

  it('writes the report and prints its path after the terminal report', async () => {
    const file = join(tmp, 'a.html');
    const { code, stdout } = await cli(dump, '--html', file);
    expect(code).toBe(0);
    expect(stdout.trimEnd().split('\n').at(-1)).toBe(`HTML report: ${file}`);
    const html = readFileSync(file, 'utf8');
    expect(html).toContain('data-verdict="deadlock"');
    expect(html).toContain('<svg id="graph-svg"');
  });

  it('with --json: stdout stays pure JSON (no detail unless asked), the path goes to stderr', async () => {
    const file = join(tmp, 'b.html');
    const { code, stdout, stderr } = await cli(dump, '--json', '--html', file, '--fail-on', 'deadlock');
    expect(code).toBe(1);
    const o = JSON.parse(stdout) as Record<string, unknown>;
    expect(o['verdict']).toBe('deadlock');
    expect(o['detail']).toBeUndefined();
    expect(stderr).toContain(`HTML report: ${file}`);
    expect(readFileSync(file, 'utf8')).toContain('id="report-data"');
  });

  it('an unwritable path is a usage error', async () => {
    const { code, stderr } = await cli(dump, '--html', join(tmp, 'no-such-dir', 'x.html'));
    expect(code).toBe(2);
    expect(stderr).toMatch(/cannot write --html/);
  });
});
