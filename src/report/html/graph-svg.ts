// The wait-for graph as an inline SVG, laid out in Node at generation time with dagre (a layered
// graph layout), so the page needs no layout library and shows the graph even before its script
// runs. Processes are dagre compound clusters; pools, threads and summaries are leaves.
import dagre, { type EdgeLabel, type NodeLabel } from '@dagrejs/dagre';
import { ellipsize, esc, shortFrame } from './escape.js';
import type { DisplayEdge, DisplayGraph, DisplayVertex } from './graph-model.js';

/** Monospace labels make widths predictable without a font-metrics library: 0.6 em per character. */
const FONT_PX = 11;
const CHAR_PX = FONT_PX * 0.62;
const LINE_PX = 14;
const MAX_LABEL_CHARS = 40;

interface Box {
  width: number;
  height: number;
  lines: [string, string];
}

interface LaidOut {
  svg: string;
  width: number;
  height: number;
}

function displayLabel(v: DisplayVertex): string {
  // HBase handler names repeat the pool and port the box already shows; the handler part tells them apart.
  // The port is noise next to the pool box (rollcall's ports are random).
  const handler = v.kind === 'thread' ? /handler=.*/.exec(v.label) : null;
  const label = handler ? handler[0].replace(/,port=\d+$/, '') : v.label;
  return ellipsize(label, MAX_LABEL_CHARS);
}

function displaySub(v: DisplayVertex): string {
  if (v.kind !== 'thread') return ellipsize(v.sub, MAX_LABEL_CHARS);
  // `WAITING · pkg.Class.method(…)` → `WAITING · Class.method`.
  const [state, frame] = v.sub.split(' · ');
  return ellipsize(frame ? `${state} · ${shortFrame(frame)}` : v.sub, MAX_LABEL_CHARS);
}

function box(v: DisplayVertex): Box {
  const lines: [string, string] = [displayLabel(v), displaySub(v)];
  const chars = Math.max(lines[0].length * (v.kind === 'pool' ? 1.1 : 1), lines[1].length);
  const pad = v.kind === 'pool' ? 24 : 16;
  return {
    width: Math.ceil(Math.max(v.kind === 'pool' ? 150 : 90, chars * CHAR_PX + pad)),
    height: v.kind === 'pool' ? 44 : 36,
    lines,
  };
}

/** d3's curveBasis: a smooth B-spline through dagre's control points. */
function curve(points: { x: number; y: number }[]): string {
  const f = (n: number) => Math.round(n * 10) / 10;
  if (points.length < 3) return 'M' + points.map((p) => `${f(p.x)},${f(p.y)}`).join('L');
  const out: string[] = [];
  let x0 = NaN;
  let y0 = NaN;
  let x1 = NaN;
  let y1 = NaN;
  const bez = (x: number, y: number) =>
    out.push(
      `C${f((2 * x0 + x1) / 3)},${f((2 * y0 + y1) / 3)},${f((x0 + 2 * x1) / 3)},${f((y0 + 2 * y1) / 3)},` +
        `${f((x0 + 4 * x1 + x) / 6)},${f((y0 + 4 * y1 + y) / 6)}`,
    );
  points.forEach((p, i) => {
    if (i === 0) out.push(`M${f(p.x)},${f(p.y)}`);
    else if (i === 2) {
      out.push(`L${f((5 * x0 + x1) / 6)},${f((5 * y0 + y1) / 6)}`);
      bez(p.x, p.y);
    } else if (i > 2) bez(p.x, p.y);
    x0 = x1;
    x1 = p.x;
    y0 = y1;
    y1 = p.y;
  });
  bez(x1, y1);
  out.push(`L${f(x1)},${f(y1)}`);
  return out.join('');
}

function vertexClass(v: DisplayVertex): string {
  const c = ['vertex', v.kind, v.status];
  if (v.deadlocked) c.push('deadlocked');
  if (v.cycle) c.push('cycle');
  return c.join(' ');
}

function vertexTitle(v: DisplayVertex): string {
  const lines = [v.node ? `${v.node} / ${v.label}` : v.label, v.sub];
  if (v.deadlocked) lines.push('deadlocked: not live in any sample');
  if (v.cycle) lines.push('on a wait-for cycle');
  if (v.foldedNames?.length)
    lines.push(`stands for: ${v.foldedNames.slice(0, 8).join(', ')}${v.folded > 8 ? ', …' : ''}`);
  return lines.join('\n');
}

export function edgeTitle(e: DisplayEdge): string {
  const head = e.count > 1 ? `${e.label}  (and ${e.count - 1} more like it)` : e.label;
  return [head, ...e.evidence.slice(0, 6)].join('\n');
}

/** Lays the graph out and returns the `<svg>` element; empty when there is nothing to draw. */
export function renderGraphSvg(g: DisplayGraph): LaidOut {
  if (g.vertices.length === 0) return { svg: '', width: 0, height: 0 };
  const dg = new dagre.graphlib.Graph<Record<string, unknown>, NodeLabel, EdgeLabel>({
    compound: true,
    multigraph: false,
  });
  // LR suits wide screens. A process's border sits (edgesep + nodesep) / 2 from its boxes: room for
  // its label; edgesep also spaces parallel edges and neighbouring processes.
  dg.setGraph({ rankdir: 'LR', nodesep: 14, ranksep: 56, edgesep: 22, marginx: 12, marginy: 12 });
  dg.setDefaultEdgeLabel(() => ({}));
  const boxes = new Map<string, Box>();
  for (const c of g.clusters) dg.setNode(`c:${c.node}`, { width: 0, height: 0 });
  for (const v of g.vertices) {
    const b = box(v);
    boxes.set(v.id, b);
    dg.setNode(v.id, { width: b.width, height: b.height });
    if (v.node !== undefined && dg.hasNode(`c:${v.node}`)) dg.setParent(v.id, `c:${v.node}`);
  }
  // Waits across processes go both ways (master → worker barrier, worker → master call), which
  // makes dagre stretch every process over every rank. Laying each cross-process edge out from the
  // busier process to the other keeps each process in its own band of ranks; the arrow is still
  // drawn in the edge's real direction.
  const order = clusterOrder(g);
  const nodeOf = new Map(g.vertices.map((v) => [v.id, v.node]));
  const flipped = new Set<number>();
  g.edges.forEach((e, i) => {
    const a = order(nodeOf.get(e.from));
    const b = order(nodeOf.get(e.to));
    const flip = a > b;
    if (flip) flipped.add(i);
    const [from, to] = flip ? [e.to, e.from] : [e.from, e.to];
    // Waits both ways across two processes flip onto the same pair: they share one layout edge
    // (and one route, drawn with an arrow at each end).
    if (!dg.hasEdge(from, to)) dg.setEdge(from, to, { weight: e.cycle ? 4 : 1, minlen: 1 });
  });
  dagre.layout(dg);

  let minX = Infinity;
  let minY = Infinity;
  let maxX = -Infinity;
  let maxY = -Infinity;
  const grow = (x0: number, y0: number, x1: number, y1: number) => {
    minX = Math.min(minX, x0);
    minY = Math.min(minY, y0);
    maxX = Math.max(maxX, x1);
    maxY = Math.max(maxY, y1);
  };
  const parts: string[] = [];
  parts.push('<g class="clusters">');
  for (const c of g.clusters) {
    const n = dg.node(`c:${c.node}`);
    if (n?.x === undefined || n.y === undefined) continue;
    const x = n.x - n.width / 2;
    const y = n.y - n.height / 2;
    const h = n.height;
    grow(x, y, x + n.width, y + h);
    const label = ellipsize(c.node, Math.max(8, Math.floor((n.width - 12) / (CHAR_PX * 1.1))));
    const sub = c.sub.length * CHAR_PX + label.length * CHAR_PX * 1.1 + 30 < n.width ? c.sub : '';
    parts.push(
      `<g class="cluster" data-node="${esc(c.node)}"><title>${esc(`${c.node}${c.sub ? ` — ${c.sub}` : ''}`)}</title>` +
        `<rect x="${r(x)}" y="${r(y)}" width="${r(n.width)}" height="${r(h)}" rx="8"/>` +
        `<text class="cluster-label" x="${r(x + 8)}" y="${r(y + 14)}"><tspan class="cluster-name">${esc(label)}</tspan>` +
        (sub ? `<tspan class="cluster-sub" dx="8">${esc(sub)}</tspan>` : '') +
        `</text></g>`,
    );
  }
  parts.push('</g><g class="edges">');
  g.edges.forEach((e, i) => {
    const flip = flipped.has(i);
    const le = flip ? dg.edge(e.to, e.from) : dg.edge(e.from, e.to);
    const pts = [...(le?.points ?? [])];
    if (flip) pts.reverse();
    if (pts.length === 0) return;
    for (const p of pts) grow(p.x, p.y, p.x, p.y);
    const d = curve(pts);
    const cls = ['edge', ...e.kind.split('+').map((k) => `k-${k.replace(/[^a-z0-9-]/gi, '')}`)];
    if (e.cycle) cls.push('cycle');
    parts.push(
      `<g class="${cls.join(' ')}" data-edge="${i}" data-from="${e.from}" data-to="${e.to}">` +
        `<title>${esc(edgeTitle(e))}</title>` +
        `<path class="hit" d="${d}"/>` +
        `<path class="line" d="${d}" marker-end="url(#${e.cycle ? 'arrow-cycle' : 'arrow'})"/>` +
        (e.count > 1 ? countBadge(pts, e.count) : '') +
        `</g>`,
    );
  });
  parts.push('</g><g class="vertices">');
  for (const v of g.vertices) {
    const n = dg.node(v.id);
    const b = boxes.get(v.id)!;
    if (n?.x === undefined || n.y === undefined) continue;
    const x = n.x - b.width / 2;
    const y = n.y - b.height / 2;
    grow(x, y, x + b.width, y + b.height);
    const attrs =
      `data-v="${v.id}"` +
      (v.node !== undefined ? ` data-node="${esc(v.node)}"` : '') +
      (v.thread !== undefined ? ` data-thread="${v.thread}"` : '');
    const rx = v.kind === 'pool' ? 3 : v.kind === 'group' ? 14 : 6;
    const line1y = v.kind === 'pool' ? y + 18 : y + 15;
    parts.push(
      `<g class="${vertexClass(v)}" ${attrs} tabindex="0"><title>${esc(vertexTitle(v))}</title>` +
        `<rect x="${r(x)}" y="${r(y)}" width="${b.width}" height="${b.height}" rx="${rx}"/>` +
        `<text class="l1" x="${r(x + b.width / 2)}" y="${r(line1y)}">${esc(b.lines[0])}</text>` +
        `<text class="l2" x="${r(x + b.width / 2)}" y="${r(line1y + LINE_PX)}">${esc(b.lines[1])}</text>` +
        `</g>`,
    );
  }
  parts.push('</g>');
  const pad = 8;
  const w = Math.ceil(maxX - minX + 2 * pad);
  const h = Math.ceil(maxY - minY + 2 * pad);
  const vb = `${r(minX - pad)} ${r(minY - pad)} ${w} ${h}`;
  const svg =
    `<svg id="graph-svg" xmlns="http://www.w3.org/2000/svg" viewBox="${vb}" width="${w}" height="${h}" ` +
    `role="img" aria-label="wait-for graph">` +
    `<defs>` +
    `<marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">` +
    `<path d="M0,0L10,5L0,10z" class="arrow"/></marker>` +
    `<marker id="arrow-cycle" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">` +
    `<path d="M0,0L10,5L0,10z" class="arrow-cycle"/></marker>` +
    `</defs>` +
    parts.join('') +
    `</svg>`;
  return { svg, width: w, height: h };
}

/** Rank of each process for edge orientation: most cross-process waits first (the hub: the master). */
function clusterOrder(g: DisplayGraph): (node: string | undefined) => number {
  const nodeOf = new Map(g.vertices.map((v) => [v.id, v.node]));
  const cross = new Map<string, number>();
  const size = new Map<string, number>();
  for (const v of g.vertices) if (v.node !== undefined) size.set(v.node, (size.get(v.node) ?? 0) + 1);
  for (const e of g.edges) {
    const a = nodeOf.get(e.from);
    const b = nodeOf.get(e.to);
    if (a === b) continue;
    for (const n of [a, b]) if (n !== undefined) cross.set(n, (cross.get(n) ?? 0) + e.count);
  }
  const nodes = [...size.keys()].sort(
    (a, b) => (cross.get(b) ?? 0) - (cross.get(a) ?? 0) || size.get(b)! - size.get(a)! || (a < b ? -1 : a > b ? 1 : 0),
  );
  const rank = new Map(nodes.map((n, i) => [n, i]));
  // The box of folded nodes goes last: it stands for the many, not the hub.
  return (node) => (node === undefined ? nodes.length : rank.get(node)!);
}

function countBadge(pts: { x: number; y: number }[], count: number): string {
  // The B-spline passes through (p[i-1] + 4·p[i] + p[i+1]) / 6, not through p[i]: put the badge there.
  const i = Math.floor(pts.length / 2);
  const p = pts[i]!;
  const a = pts[i - 1] ?? p;
  const c = pts[i + 1] ?? p;
  const mid =
    pts.length < 3
      ? { x: (a.x + p.x) / 2, y: (a.y + p.y) / 2 }
      : { x: (a.x + 4 * p.x + c.x) / 6, y: (a.y + 4 * p.y + c.y) / 6 };
  const text = `×${count}`;
  const w = text.length * 6 + 8;
  return (
    `<g class="badge"><rect x="${r(mid.x - w / 2)}" y="${r(mid.y - 8)}" width="${w}" height="16" rx="8"/>` +
    `<text x="${r(mid.x)}" y="${r(mid.y + 4)}">${text}</text></g>`
  );
}

function r(n: number): number {
  return Math.round(n * 10) / 10;
}
