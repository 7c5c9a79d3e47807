// The page's script, inlined as text: the side panel for graph evidence, heatmap → thread filter,
// the searchable thread list and the per-sample stack drill-down. Plain ES2017 with no libraries;
// every string from the dumps goes in through textContent, never innerHTML.
// Written without backticks or dollar-brace so it can live in this template literal unescaped.
export const REPORT_SCRIPT = String.raw`
(function () {
  'use strict';
  var D = JSON.parse(document.getElementById('report-data').textContent);
  var CLASSES = ['blocked', 'running-stuck', 'progressing', 'idle', 'waiting'];
  var NS = Math.max(1, D.states.length);
  var PAGE = 200;
  var collator = new Intl.Collator('en', { numeric: true });

  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    if (attrs) for (var k in attrs) {
      if (k === 'text') e.textContent = attrs[k];
      else if (k === 'cls') e.className = attrs[k];
      else if (k.slice(0, 2) === 'on') e.addEventListener(k.slice(2), attrs[k]);
      else e.setAttribute(k, attrs[k]);
    }
    (children || []).forEach(function (c) { if (c != null) e.appendChild(typeof c === 'string' ? document.createTextNode(c) : c); });
    return e;
  }
  function tag(text, cls) { return el('span', { cls: 'tag ' + (cls || ''), text: text }); }
  function decode(x) {
    if (x < 0) return null;
    var idle = x % 2;
    var y = (x - idle) / 2;
    return { stack: Math.floor(y / NS), state: D.states[y % NS], idle: idle === 1 };
  }
  function shortFrame(f) {
    var p = f.replace(/\(.*\)\s*$/, '').split('.');
    return p.length <= 2 ? p.join('.') : p.slice(-2).join('.');
  }

  // ---- threads ----
  var T = D.threads.map(function (r, i) {
    var packed = r.slice(5);
    // One stored sample stands for every round (see data.ts).
    if (packed.length === 1 && D.samples > 1) for (var n = 1; n < D.samples; n++) packed.push(packed[0]);
    var samples = packed.map(decode);
    var last = null;
    for (var k = samples.length - 1; k >= 0; k--) if (samples[k]) { last = samples[k]; break; }
    var top = last ? (D.stacks[last.stack] || [])[0] : undefined;
    var t = {
      i: i, node: D.nodes[r[0]], name: D.names[r[1]], pool: r[2] >= 0 ? D.pools[r[2]] : '', cls: r[3],
      javaId: r[4], samples: samples, state: last ? last.state : '', top: top !== undefined ? D.frames[top] : ''
    };
    t.key = (t.node + '\u0000' + t.name + '\u0000' + t.pool + '\u0000' + t.top + '\u0000' + t.state).toLowerCase();
    return t;
  });
  var order = T.slice().sort(function (a, b) {
    return a.cls - b.cls || collator.compare(a.node, b.node) || collator.compare(a.name, b.name);
  });
  var filter = { q: '', cls: 'all', node: null };
  var limit = PAGE;
  var selected = -1;
  var listBody = document.getElementById('thread-rows');
  var countEl = document.getElementById('thread-count');
  var chip = document.getElementById('node-chip');

  function matches(t) {
    if (filter.node !== null && t.node !== filter.node) return false;
    if (filter.cls === 'stuck' ? t.cls > 1 : filter.cls !== 'all' && t.cls !== +filter.cls) return false;
    if (filter.q) {
      var words = filter.q.split(/\s+/);
      for (var w = 0; w < words.length; w++) if (words[w] && t.key.indexOf(words[w]) < 0) return false;
    }
    return true;
  }
  function renderList() {
    var shown = order.filter(matches);
    listBody.textContent = '';
    var frag = document.createDocumentFragment();
    shown.slice(0, limit).forEach(function (t) {
      var tr = el('tr', { cls: 'thread-row' + (t.i === selected ? ' selected' : ''), 'data-thread': String(t.i) }, [
        el('td', null, [tag(CLASSES[t.cls], CLASSES[t.cls])]),
        el('td', { cls: 'node', text: t.node }),
        el('td', { cls: 'name' }, [t.name, el('div', { cls: 'muted', text: (t.state ? t.state + ' · ' : '') + shortFrame(t.top) })])
      ]);
      frag.appendChild(tr);
    });
    if (shown.length > limit) {
      frag.appendChild(el('tr', { cls: 'more-row' }, [el('td', { colspan: '3' }, [
        el('button', { cls: 'small-btn', text: 'show ' + Math.min(shown.length - limit, 500) + ' more of ' + (shown.length - limit),
          onclick: function () { limit += 500; renderList(); } })
      ])]));
    }
    listBody.appendChild(frag);
    countEl.textContent = shown.length + ' of ' + T.length + ' threads';
    chip.hidden = filter.node === null;
    if (filter.node !== null) chip.querySelector('b').textContent = filter.node;
    document.querySelectorAll('table.heatmap tr.selected').forEach(function (r) { r.classList.remove('selected'); });
    if (filter.node !== null) {
      var row = document.querySelector('table.heatmap tr[data-node="' + CSS.escape(filter.node) + '"]');
      if (row) row.classList.add('selected');
    }
  }
  listBody.addEventListener('click', function (ev) {
    var tr = ev.target.closest('tr.thread-row');
    if (tr) showThread(+tr.getAttribute('data-thread'), false);
  });
  document.getElementById('thread-search').addEventListener('input', function (ev) {
    filter.q = ev.target.value.trim().toLowerCase(); limit = PAGE; renderList();
  });
  document.getElementById('thread-class').addEventListener('change', function (ev) {
    filter.cls = ev.target.value; limit = PAGE; renderList();
  });
  chip.querySelector('button').addEventListener('click', function () { setNode(null, false); });
  function setNode(node, scroll) {
    filter.node = node; limit = PAGE; renderList();
    if (scroll) document.getElementById('threads').scrollIntoView({ behavior: 'smooth', block: 'start' });
  }

  // ---- per-sample stacks, differences marked ----
  function showThread(i, scroll) {
    var t = T[i];
    if (!t) return;
    selected = i;
    listBody.querySelectorAll('tr.selected').forEach(function (r) { r.classList.remove('selected'); });
    var row = listBody.querySelector('tr[data-thread="' + i + '"]');
    if (row) row.classList.add('selected');
    var box = document.getElementById('thread-detail');
    box.textContent = '';
    var frames = t.samples.map(function (s) { return s ? (D.stacks[s.stack] || []).map(function (f) { return D.frames[f]; }) : null; });
    var present = frames.filter(function (f) { return f !== null; });
    var depth = present.reduce(function (m, f) { return Math.max(m, f.length); }, 0);
    var stackIds = t.samples.filter(Boolean).map(function (s) { return s.stack; });
    var same = stackIds.every(function (s) { return s === stackIds[0]; });
    var states = t.samples.filter(Boolean).map(function (s) { return s.state; });
    var sameState = states.every(function (s) { return s === states[0]; });
    box.appendChild(el('h3', { cls: 'mono', text: t.name }));
    box.appendChild(el('div', { cls: 'small' }, [
      tag(CLASSES[t.cls], CLASSES[t.cls]), 'node ', el('b', { text: t.node }),
      t.pool ? ' · pool ' : '', t.pool ? el('b', { text: t.pool }) : null,
      t.javaId >= 0 ? ' · id ' + t.javaId : '',
      ' · ' + present.length + ' of ' + t.samples.length + ' samples · ',
      same ? el('span', { text: 'same stack in every sample' }) : el('span', { text: 'stack changes between samples (changed frames highlighted)' })
    ]));
    // One column per sample, one row per frame position. Stacks grow at the innermost end, so rows
    // line up from the outermost frame (the bottom); a row whose frames differ is marked changed.
    var head = el('tr', null, frames.map(function (f, s) {
      var smp = t.samples[s];
      return el('th', { 'data-sample': String(s) }, ['sample ' + (s + 1) + ' ', smp
        ? el('span', { cls: 'state' + (sameState ? '' : ' changed'), text: smp.state + (smp.idle ? ' (idle)' : '') })
        : el('span', { cls: 'muted', text: 'absent' })]);
    }));
    var body = el('tbody');
    for (var r = 0; r < depth; r++) {
      var vals = frames.map(function (f) { if (!f) return undefined; var k = r - (depth - f.length); return k >= 0 ? f[k] : null; });
      var seen = vals.filter(function (v) { return v !== undefined; });
      var changed = seen.some(function (v) { return v !== seen[0]; });
      body.appendChild(el('tr', { cls: changed ? 'frame chg' : 'frame' }, vals.map(function (v, s) {
        if (v === undefined) return el('td', { cls: 'absent', text: r === 0 ? 'not in this dump' : '' });
        return el('td', { cls: v === null ? 'pad' : '', text: v || '', 'data-sample': String(s) });
      })));
    }
    box.appendChild(el('div', { cls: 'stacks-wrap' }, [el('table', { cls: 'stacks' }, [el('thead', null, [head]), body])]));
    if (scroll) document.getElementById('threads').scrollIntoView({ behavior: 'smooth', block: 'start' });
  }

  // ---- heatmap ----
  var heat = document.querySelector('table.heatmap');
  if (heat) heat.addEventListener('click', function (ev) {
    var cell = ev.target.closest('td.cell, tbody th');
    if (!cell) return;
    var node = cell.getAttribute('data-node') || cell.parentElement.getAttribute('data-node');
    setNode(node, true);
  });
  document.addEventListener('click', function (ev) {
    var b = ev.target.closest('.show-thread');
    if (b) showThread(+b.getAttribute('data-thread'), true);
  });

  // ---- graph: hover highlights, click opens the side panel ----
  var svg = document.getElementById('graph-svg');
  var panel = document.getElementById('panel');
  var panelBody = document.getElementById('panel-body');
  var V = {};
  D.graph.vertices.forEach(function (v) { V[v.id] = v; });
  function edgeObj(i) {
    var e = D.graph.edges[i];
    return { i: i, from: e[0], to: e[1], kind: e[2], label: e[3], count: e[4], cycle: e[5] === 1,
      evidence: e[6].map(function (k) { return D.graph.evidence[k]; }) };
  }
  function clearSelection() {
    if (svg) svg.querySelectorAll('.selected').forEach(function (n) { n.classList.remove('selected'); });
  }
  function closePanel() { panel.hidden = true; clearSelection(); }
  document.getElementById('panel-close').addEventListener('click', closePanel);
  document.addEventListener('keydown', function (ev) { if (ev.key === 'Escape') closePanel(); });
  function edgeBlock(e, otherLabel) {
    var tags = [tag(e.kind)];
    if (e.cycle) tags.push(tag('cycle', 'cycle'));
    if (e.count > 1) tags.push(tag('×' + e.count));
    var ul = el('ul', { cls: 'evidence' });
    e.evidence.forEach(function (line) { ul.appendChild(el('li', { text: line })); });
    return el('div', { cls: 'edge-item' }, [
      el('div', null, tags.concat([otherLabel ? el('b', { text: otherLabel }) : null])),
      el('div', { cls: 'small', text: e.label + (e.count > 1 ? '  (and ' + (e.count - 1) + ' more like it)' : '') }),
      ul
    ]);
  }
  function vLabel(id) { var v = V[id]; return v ? (v.node ? v.node + ' / ' : '') + v.label : id; }
  function openVertex(id) {
    var v = V[id];
    if (!v) return;
    panelBody.textContent = '';
    var tags = [tag(v.kind), tag(v.status)];
    if (v.deadlocked) tags.push(tag('deadlocked', 'deadlocked'));
    if (v.cycle) tags.push(tag('on cycle', 'cycle'));
    panelBody.appendChild(el('h3', { cls: 'mono', text: v.label }));
    panelBody.appendChild(el('div', null, tags));
    panelBody.appendChild(el('p', { cls: 'small' }, [v.node ? 'node ' : '', v.node ? el('b', { text: v.node }) : null,
      v.pool ? ' · pool ' : '', v.pool ? el('b', { text: v.pool }) : null, (v.node ? ' · ' : '') + v.sub]));
    if (v.thread >= 0) panelBody.appendChild(el('p', null, [el('button', { cls: 'small-btn', text: 'show its stack in every sample',
      onclick: function () { showThread(v.thread, true); } })]));
    if (v.node && v.kind !== 'summary') panelBody.appendChild(el('p', null, [el('button', { cls: 'small-btn', text: 'list threads of ' + v.node,
      onclick: function () { setNode(v.node, true); } })]));
    var foldsNodes = v.kind === 'summary' && !v.node;
    if (v.foldedNames.length && !foldsNodes) {
      var ul = el('ul', { cls: 'evidence' });
      v.foldedNames.forEach(function (n) { ul.appendChild(el('li', { text: n })); });
      panelBody.appendChild(el('div', null, [el('b', { text: 'Stands for ' + v.folded + ' (first ' + v.foldedNames.length + ' listed):' }), ul]));
    }
    if (foldsNodes && D.graph.foldedNodes.length) {
      var tb = el('tbody');
      D.graph.foldedNodes.forEach(function (f) {
        tb.appendChild(el('tr', null, [el('td', null, [el('button', { cls: 'link', text: f[0], onclick: function () { setNode(f[0], true); } })]),
          el('td', { cls: 'num', text: String(f[1]) }), el('td', { cls: 'num', text: String(f[2]) })]));
      });
      panelBody.appendChild(el('table', { cls: 'data' }, [el('thead', null, [el('tr', null, [el('th', { text: 'node' }),
        el('th', { cls: 'num', text: 'in graph' }), el('th', { cls: 'num', text: 'deadlocked' })])]), tb]));
    }
    var outs = [], ins = [];
    D.graph.edges.forEach(function (e, i) { if (e[0] === id) outs.push(edgeObj(i)); if (e[1] === id) ins.push(edgeObj(i)); });
    if (outs.length) panelBody.appendChild(el('h3', { text: 'Waits for (' + outs.length + ')' }));
    outs.forEach(function (e) { panelBody.appendChild(edgeBlock(e, '→ ' + vLabel(e.to))); });
    if (ins.length) panelBody.appendChild(el('h3', { text: 'Waited on by (' + ins.length + ')' }));
    ins.forEach(function (e) { panelBody.appendChild(edgeBlock(e, '← ' + vLabel(e.from))); });
    panel.hidden = false;
  }
  function openEdge(i) {
    var e = edgeObj(i);
    panelBody.textContent = '';
    panelBody.appendChild(el('h3', { text: 'Wait: ' + vLabel(e.from) + ' → ' + vLabel(e.to) }));
    panelBody.appendChild(edgeBlock(e, ''));
    panel.hidden = false;
  }
  if (svg) {
    svg.addEventListener('click', function (ev) {
      var g = ev.target.closest('.vertex, .edge');
      if (!g) return;
      clearSelection();
      g.classList.add('selected');
      if (g.classList.contains('vertex')) openVertex(g.getAttribute('data-v'));
      else openEdge(+g.getAttribute('data-edge'));
    });
    svg.addEventListener('keydown', function (ev) {
      if (ev.key !== 'Enter') return;
      var g = ev.target.closest('.vertex');
      if (g) { clearSelection(); g.classList.add('selected'); openVertex(g.getAttribute('data-v')); }
    });
    var lit = [];
    svg.addEventListener('mouseover', function (ev) {
      var g = ev.target.closest('.vertex');
      lit.forEach(function (n) { n.classList.remove('hl'); });
      lit = [];
      if (!g) return;
      var id = g.getAttribute('data-v');
      svg.querySelectorAll('.edge[data-from="' + id + '"], .edge[data-to="' + id + '"]').forEach(function (n) { n.classList.add('hl'); lit.push(n); });
    });
  }
  var fit = document.getElementById('fit-toggle');
  if (fit) fit.addEventListener('click', function () {
    var wrap = document.querySelector('.graph-wrap');
    var on = wrap.classList.toggle('fit');
    fit.classList.toggle('on', on);
    fit.textContent = on ? 'fit to width' : 'actual size';
  });

  var reason = document.querySelector('.reason');
  if (reason) reason.addEventListener('click', function () { reason.classList.toggle('open'); });

  renderList();
  if (order.length) showThread(order[0].i, false);
})();
`;
