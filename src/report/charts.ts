// Charts as standalone SVG, rendered in Node by Vega (a real grammar-of-graphics library, no
// browser needed): Vega-Lite compiles a small declarative spec, Vega renders it headless.
// Used by `rollcall simulate --plot` (the scale cliff) and by the HTML report.
import type { TopLevelSpec } from 'vega-lite';

export interface LinePoint {
  x: number;
  y: number;
  /** Which line the point belongs to (legend entry). */
  series: string;
  /** Optional category drawn as the point's shape (e.g. ok / timeout / failed). */
  kind?: string;
}

/** A horizontal marker line, e.g. the timeout wall. */
export interface HorizontalRule {
  y: number;
  label: string;
  color?: string;
}

/** A vertical marker line, e.g. an observed or predicted cliff. */
export interface VerticalRule {
  x: number;
  label: string;
  color?: string;
}

export interface LineChartOptions {
  title?: string;
  xTitle: string;
  yTitle: string;
  yScale?: 'linear' | 'log';
  xScale?: 'linear' | 'log';
  widthPx?: number;
  heightPx?: number;
  rules?: HorizontalRule[];
  xRules?: VerticalRule[];
  /** Legend title for the kind shapes. */
  kindTitle?: string;
}

/** Bound on plotted points: a chart with more is unreadable and slow to render. */
export const MAX_CHART_POINTS = 100_000;

/** A line chart of any series against x; returns an SVG document. */
export async function lineChartSvg(points: readonly LinePoint[], options: LineChartOptions): Promise<string> {
  if (points.length > MAX_CHART_POINTS)
    throw new Error(`chart has ${points.length} points (limit ${MAX_CHART_POINTS})`);
  const yScale = options.yScale ?? 'linear';
  const xScale = options.xScale ?? 'linear';
  const data = points.map((p) => ({
    x: p.x,
    y: yScale === 'log' ? Math.max(p.y, 0.001) : p.y,
    series: p.series,
    kind: p.kind ?? '',
  }));
  const hasKinds = points.some((p) => p.kind !== undefined);
  const rules = options.rules ?? [];
  const x = { field: 'x', type: 'quantitative', title: options.xTitle, scale: { type: xScale, zero: false } } as const;
  const y = { field: 'y', type: 'quantitative', title: options.yTitle, scale: { type: yScale } } as const;
  const layers: unknown[] = [
    {
      data: { values: data },
      mark: { type: 'line', interpolate: 'monotone', strokeWidth: 2 },
      encoding: { x, y, color: { field: 'series', type: 'nominal', title: null } },
    },
    {
      data: { values: data },
      mark: { type: 'point', filled: true, size: 50 },
      encoding: {
        x,
        y,
        color: { field: 'series', type: 'nominal', title: null },
        ...(hasKinds ? { shape: { field: 'kind', type: 'nominal', title: options.kindTitle ?? null } } : {}),
        tooltip: [
          { field: 'series', type: 'nominal' },
          { field: 'x', type: 'quantitative', title: options.xTitle },
          { field: 'y', type: 'quantitative', title: options.yTitle },
        ],
      },
    },
  ];
  for (const r of rules) {
    const color = r.color ?? '#c0392b';
    layers.push(
      {
        data: { values: [{ y: r.y }] },
        mark: { type: 'rule', strokeDash: [6, 4], color, strokeWidth: 1.5 },
        encoding: { y: { field: 'y', type: 'quantitative' } },
      },
      {
        data: { values: [{ y: r.y, label: r.label }] },
        mark: { type: 'text', align: 'left', baseline: 'bottom', dx: 4, dy: -3, color, x: 0 },
        encoding: { y: { field: 'y', type: 'quantitative' }, text: { field: 'label', type: 'nominal' } },
      },
    );
  }
  for (const [i, r] of (options.xRules ?? []).entries()) {
    const color = r.color ?? '#7f8c8d';
    layers.push(
      {
        data: { values: [{ x: r.x }] },
        mark: { type: 'rule', strokeDash: [2, 3], color, strokeWidth: 1.5 },
        encoding: { x: { field: 'x', type: 'quantitative' } },
      },
      {
        data: { values: [{ x: r.x, label: r.label }] },
        // Along the bottom edge, stacked, clear of the horizontal rules' labels at the top.
        mark: { type: 'text', align: 'left', baseline: 'bottom', dx: 4, dy: -4 - 14 * i, color, y: 'height' },
        encoding: { x: { field: 'x', type: 'quantitative' }, text: { field: 'label', type: 'nominal' } },
      },
    );
  }
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    ...(options.title ? { title: options.title } : {}),
    width: options.widthPx ?? 640,
    height: options.heightPx ?? 360,
    background: 'white',
    layer: layers,
    config: { font: 'sans-serif', axis: { grid: true, gridOpacity: 0.4 } },
  } as unknown as TopLevelSpec;
  // vega and vega-lite take a quarter of a second to load: only a command drawing a chart pays it.
  const [vega, { compile }] = await Promise.all([import('vega'), import('vega-lite')]);
  const vgSpec = compile(spec).spec;
  const view = new vega.View(vega.parse(vgSpec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** One simulated run, as `rollcall simulate` reports it. */
export interface SweepChartPoint {
  nodes: number;
  durationMs: number;
  outcome: string;
  /** Legend entry, e.g. "legacy, 30 handlers" or "fixed". */
  series: string;
}

/**
 * The scale cliff: virtual rolllog duration against cluster size for each mode, on a log scale so
 * tens of milliseconds and the 60,000 ms wall fit one screen, with the timeout wall marked.
 */
export async function sweepChartSvg(
  results: readonly SweepChartPoint[],
  options: {
    timeoutMs: number;
    title?: string;
    /** Extra vertical markers, e.g. the deadlock predictor's threshold next to the observed cliff. */
    markers?: VerticalRule[];
  },
): Promise<string> {
  const points: LinePoint[] = results.map((r) => ({ x: r.nodes, y: r.durationMs, series: r.series, kind: r.outcome }));
  const xRules: VerticalRule[] = [];
  for (const series of new Set(results.map((r) => r.series))) {
    const cliff = observedCliff(results.filter((r) => r.series === series));
    if (cliff !== undefined) xRules.push({ x: cliff, label: `${series}: first failure at ${cliff}`, color: '#7f8c8d' });
  }
  xRules.push(...(options.markers ?? []));
  return lineChartSvg(points, {
    xRules,
    title: options.title ?? 'rolllog duration vs cluster size (simulated)',
    xTitle: 'workers',
    yTitle: 'rolllog duration, virtual ms (log)',
    yScale: 'log',
    kindTitle: 'outcome',
    rules: [{ y: options.timeoutMs, label: `timeout wall ${options.timeoutMs.toLocaleString('en-US')} ms` }],
  });
}

/** The smallest size that did not succeed, when some smaller size did: where the cliff starts. */
export function observedCliff(results: readonly { nodes: number; outcome: string }[]): number | undefined {
  const sorted = [...results].sort((a, b) => a.nodes - b.nodes);
  const firstBad = sorted.find((r) => r.outcome !== 'ok');
  if (firstBad === undefined || !sorted.some((r) => r.outcome === 'ok' && r.nodes < firstBad.nodes)) return undefined;
  return firstBad.nodes;
}
