// The graph pages' glue to uPlot, a browser library Limen serves itself (scripts/build.sh copies
// it from vendor/node_modules into the site). Only a page that draws graphs loads this file (the
// module script beside its graph area), and this file loads uPlot only when graphs are mounted,
// so no other page pays for it. It draws what the graphs' part of a page shows (kept out of the
// WASM, whose strings and code would otherwise weigh on the dashboard's first load): the range
// switch, the charts, and on the host page the capacity.
//
// `drawCharts(target, { kind, history: url, live: url | null })` draws one <figure
// class="graph" data-graph="…" data-points="N"> per chart into `target` from the history JSON
// ({range, step_secs, stored_until, points: [{at, …}], capacity?}), then appends each `point`
// event of the `live` event stream to every chart. It returns `{ ready, destroy() }`: `ready`
// resolves once the charts are drawn and rejects when they could not be (the target then says
// so).
//
// Every word shown is the page's language's: the graph area's `data-graphs-words` holds them (a
// JSON object by name, from the translation files; a sentence has `{name}` where a value goes).
// Dates follow the page's `<html lang>`.

const UPLOT = '/uplot/uPlot.esm.js';
const STYLESHEETS = ['/uplot/uPlot.min.css', '/graphs.css'];
const HEIGHT = 200;
// How much time each history range covers: live points older than that are dropped.
const RANGE_SECS = { '1h': 3600, '24h': 86400, '7d': 7 * 86400, '30d': 30 * 86400 };
const TEAL = '#0f766e';
const ORANGE = '#c2410c';
const SLATE = '#64748b';

// The words of a graph area's `data-graphs-words`; a word it lacks is shown by its name.
function wordsOf(json) {
  let words = {};
  try { words = JSON.parse(json || '{}') ?? {}; } catch { /* none: names are shown */ }
  return new Proxy(words, { get: (w, name) => (typeof w[name] === 'string' ? w[name] : String(name)) });
}
// A sentence with its `{name}`s replaced by `values`' (a name without a value stays).
const fill = (sentence, values) => sentence.replace(/\{(\w+)\}/g, (all, name) => (name in values ? String(values[name]) : all));

// Dates as uPlot writes them (its axis and legend templates), in the page's language: English
// keeps uPlot's own; another language gets its month and day names from the browser and a
// 24-hour clock instead of am/pm.
const LANG = document.documentElement.lang || 'en';
let localDates;
function fmtDate() {
  if (localDates === undefined) {
    localDates = null;
    if (!/^en\b/i.test(LANG)) {
      const names = (options, count, date) => {
        const format = new Intl.DateTimeFormat(LANG, { ...options, timeZone: 'UTC' });
        return Array.from({ length: count }, (_, i) => format.format(date(i)));
      };
      const month = (i) => new Date(Date.UTC(2021, i, 15));
      // 2021-01-03 was a Sunday (uPlot's day 0).
      const day = (i) => new Date(Date.UTC(2021, 0, 3 + i));
      const table = {
        MMMM: names({ month: 'long' }, 12, month),
        MMM: names({ month: 'short' }, 12, month),
        WWWW: names({ weekday: 'long' }, 7, day),
        WWW: names({ weekday: 'short' }, 7, day),
      };
      localDates = (tpl, uPlot) => uPlot.fmtDate(
        tpl.replace(/\{h\}:\{mm\}\{aa\}/g, '{HH}:{mm}').replace(/\{h\}\{aa\}/g, '{HH}:00'),
        table,
      );
    }
  }
  return localDates;
}

let uplotLoaded = null;
function loadUplot() {
  if (!uplotLoaded) {
    // The stylesheets (uPlot's, and the graphs' layout, kept out of the dashboard's first load)
    // are waited for too (a failure only costs the layout), so no chart is drawn unstyled.
    const styled = STYLESHEETS.map((href) => {
      if (document.querySelector(`link[href="${href}"]`)) return Promise.resolve();
      const css = document.createElement('link');
      css.rel = 'stylesheet';
      css.href = href;
      const loaded = new Promise((resolve) => {
        css.addEventListener('load', resolve, { once: true });
        css.addEventListener('error', resolve, { once: true });
      });
      document.head.append(css);
      return loaded;
    });
    uplotLoaded = Promise.all([import(UPLOT), ...styled]).then(([module]) => module.default);
    uplotLoaded.catch(() => { uplotLoaded = null; });
  }
  return uplotLoaded;
}

// Numbers in words a person reads: 1024-based byte units, one decimal below 100.
const short = (n) => String(+n.toFixed(Math.abs(n) >= 100 ? 0 : 1));
const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
function bytes(v) {
  let i = 0;
  while (Math.abs(v) >= 1024 && i < UNITS.length - 1) { v /= 1024; i += 1; }
  return `${short(v)} ${UNITS[i]}`;
}
const FORMATS = {
  percent: (v) => `${short(v)} %`,
  bytes,
  rate: (v) => `${bytes(v)}/s`,
};
// Axis steps in whole binary units (1, 2, 5, 10 … 500 KiB, MiB …) rather than uPlot's decimal
// ones, which would put ticks at 95.4 MiB.
const BINARY_INCRS = [0, 1, 2, 3, 4, 5].flatMap((k) => [1, 2, 5, 10, 20, 50, 100, 200, 500].map((m) => m * 1024 ** k));

const field = (key, scale = 1) => (p) => (typeof p[key] === 'number' ? p[key] * scale : null);

// What each page draws: one entry per chart, one series per line (`w`: the page's words).
const CHARTS = (w) => ({
  vm: [
    { id: 'cpu', title: w.cpu, label: w.cpu_graph, unit: 'percent',
      series: [{ label: w.cpu, get: field('cpu_percent'), color: TEAL, fill: true }] },
    { id: 'memory', title: w.memory, label: w.memory_graph, unit: 'bytes',
      series: [{ label: w.assigned, get: field('memory_kib', 1024), color: SLATE, dash: [5, 4] },
        { label: w.used, get: field('memory_used_kib', 1024), color: TEAL, fill: true }] },
    { id: 'disk', title: w.disk_io, label: w.disk_io_graph, unit: 'rate',
      series: [{ label: w.read, get: field('disk_read_bps'), color: TEAL },
        { label: w.write, get: field('disk_write_bps'), color: ORANGE }] },
    { id: 'network', title: w.network, label: w.network_graph, unit: 'rate',
      series: [{ label: w.receive, get: field('net_rx_bps'), color: TEAL },
        { label: w.transmit, get: field('net_tx_bps'), color: ORANGE }] },
  ],
  host: [
    { id: 'cpu', title: w.cpu, label: w.host_cpu_graph, unit: 'percent',
      series: [{ label: w.cpu, get: field('cpu_percent'), color: TEAL, fill: true }] },
    { id: 'memory', title: w.memory, label: w.host_memory_graph, unit: 'bytes',
      series: [{ label: w.total, get: field('memory_total_kib', 1024), color: SLATE, dash: [5, 4] },
        { label: w.used, get: field('memory_used_kib', 1024), color: TEAL, fill: true }] },
    { id: 'disk', title: w.data_dir_free, label: w.data_dir_free_graph, unit: 'bytes',
      series: [{ label: w.free, get: field('disk_free_bytes'), color: TEAL, fill: true }] },
  ],
});
// The empty charts' words, by page.
const EMPTY = { vm: 'empty_vm', host: 'empty_host' };

// A stretch without samples (the VM was off, Limen was down) is drawn as a gap, not as a line
// across it; uPlot itself only knows of null values as gaps. Points before `storedUntil` are the
// database's per-minute means (the hour after a restart): a minute apart is no gap there.
function timeGaps(timing) {
  return (u, _series, idx0, idx1, nullGaps) => {
    const xs = u.data[0];
    const gaps = [...nullGaps];
    for (let i = idx0; i < idx1; i += 1) {
      const step = xs[i + 1] <= timing.storedUntil ? Math.max(timing.step, 60) : timing.step;
      if (step > 0 && xs[i + 1] - xs[i] > step * 2.5) {
        gaps.push([Math.round(u.valToPos(xs[i], 'x', true)), Math.round(u.valToPos(xs[i + 1], 'x', true))]);
      }
    }
    return gaps.sort((a, b) => a[0] - b[0]);
  };
}

// The y axis as wide as its longest label (uPlot's axis-autosize recipe): "1000 KiB/s" needs
// twice the room of "50 %".
function axisSize(u, values, axisIdx, cycleNum) {
  const axis = u.axes[axisIdx];
  if (cycleNum > 1) return axis._size;
  const longest = (values ?? []).reduce((a, v) => (v.length > a.length ? v : a), '');
  u.ctx.font = axis.font[0];
  return Math.ceil(axis.ticks.size + axis.gap + u.ctx.measureText(longest).width / devicePixelRatio) + 2;
}

function options(spec, width, timing, uPlot, words) {
  const format = FORMATS[spec.unit];
  const axis = { stroke: '#5b6470', grid: { stroke: '#eef0f3' }, ticks: { stroke: '#dde1e6' } };
  const dates = fmtDate();
  return {
    width,
    height: HEIGHT,
    ...(dates ? { fmtDate: (tpl) => dates(tpl, uPlot) } : {}),
    series: [
      // The time series (uPlot would call it "Time" in the legend).
      { label: words.time },
      ...spec.series.map((s) => ({
        label: s.label,
        stroke: s.color,
        width: 1.5,
        dash: s.dash,
        fill: s.fill ? `${s.color}1f` : undefined,
        value: (_u, v) => (v == null ? '–' : format(v)),
        gaps: timeGaps(timing),
      })),
    ],
    scales: {
      // From zero; CPU up to 100 % at least (more only if a sample says so).
      y: { range: (_u, _min, max) => (spec.unit === 'percent'
        ? [0, Math.max(100, max ?? 0)]
        : [0, max > 0 ? max * 1.1 : 1024]) },
    },
    axes: [
      axis,
      { ...axis, size: axisSize,
        incrs: spec.unit === 'percent' ? undefined : BINARY_INCRS,
        values: (_u, splits) => splits.map((v) => (v == null ? '' : format(v))) },
    ],
  };
}

async function fetchHistory(url, signal) {
  const response = await fetch(url, { credentials: 'same-origin', headers: { accept: 'application/json' }, signal });
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response.json();
}

function drawCharts(target, { kind = 'vm', history, live = null, onBody = null, words = wordsOf() } = {}) {
  const byKind = CHARTS(words);
  const specs = byKind[kind] ?? byKind.vm;
  const abort = new AbortController();
  let destroyed = false;
  let charts = [];
  let source = null;
  let observer = null;
  let points = [];
  let step = 0;
  let span = 0;

  const data = (spec) => [points.map((p) => p.at), ...spec.series.map((s) => points.map(s.get))];
  function draw(chart) {
    chart.u.setData(data(chart.spec));
    chart.figure.dataset.points = String(points.length);
    chart.empty.hidden = points.length > 0;
  }

  // A live point: after the newest one (a repeat after a reconnection is ignored), and on a long
  // range no denser than about its own step.
  function append(point) {
    if (typeof point?.at !== 'number') return;
    const last = points[points.length - 1];
    if (last && (point.at <= last.at || point.at - last.at < step / 2)) return;
    points.push(point);
    const oldest = point.at - span;
    while (points.length > 1 && points[0].at < oldest) points.shift();
    charts.forEach(draw);
  }

  const ready = (async () => {
    let uPlot;
    let body;
    try {
      [body, uPlot] = await Promise.all([fetchHistory(history, abort.signal), loadUplot()]);
    } catch (error) {
      if (destroyed) return;
      target.replaceChildren(element('p', { class: 'muted', role: 'status' }, words.failed));
      throw error;
    }
    if (destroyed) return;
    onBody?.(body);
    points = (Array.isArray(body?.points) ? body.points : [])
      .filter((p) => typeof p?.at === 'number')
      .sort((a, b) => a.at - b.at);
    step = Number(body?.step_secs) || 0;
    const timing = { step, storedUntil: Number(body?.stored_until) || 0 };
    span = RANGE_SECS[body?.range]
      ?? (points.length > 1 ? points[points.length - 1].at - points[0].at : 3600);

    target.classList.add('graphs');
    target.replaceChildren();
    observer = new ResizeObserver(() => {
      for (const { u, plot } of charts) {
        // Hidden (width 0): nothing to fit to.
        if (plot.clientWidth > 0 && plot.clientWidth !== u.width) u.setSize({ width: plot.clientWidth, height: HEIGHT });
      }
    });
    charts = specs.map((spec) => {
      const figure = document.createElement('figure');
      figure.className = 'graph';
      figure.dataset.graph = spec.id;
      figure.setAttribute('role', 'img');
      figure.setAttribute('aria-label', spec.label);
      const caption = document.createElement('figcaption');
      caption.textContent = spec.title;
      const empty = document.createElement('p');
      empty.className = 'muted';
      empty.textContent = words[EMPTY[kind] ?? EMPTY.vm];
      const plot = document.createElement('div');
      plot.className = 'graph-plot';
      figure.append(caption, empty, plot);
      target.append(figure);
      const u = new uPlot(options(spec, plot.clientWidth || 600, timing, uPlot, words), data(spec), plot);
      const chart = { spec, figure, empty, plot, u };
      draw(chart);
      observer.observe(plot);
      return chart;
    });

    if (live) {
      source = new EventSource(live);
      source.addEventListener('point', (event) => {
        let point;
        try { point = JSON.parse(event.data); } catch { return; /* not a point: skipped */ }
        append(point);
      });
    }
  })();

  return {
    ready,
    destroy() {
      destroyed = true;
      abort.abort();
      source?.close();
      source = null;
      observer?.disconnect();
      observer = null;
      for (const { u } of charts) u.destroy();
      charts = [];
      target.replaceChildren();
    },
  };
}

// The ranges a page can show, as the API names them.
const RANGES = [['1h', 'range_hour'], ['24h', 'range_day'], ['7d', 'range_week'], ['30d', 'range_month']];

const GIB = 1024 ** 3;
const gib = (b) => `${(b / GIB).toFixed(1)} GiB`;
const ratio = (r) => `${r.toFixed(2)}×`;

function element(tag, attributes = {}, text = null) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  if (text !== null) node.textContent = text;
  return node;
}

// The host's capacity (the host history's `capacity`): what the VMs are given of what the host
// has, the data dir's free space, and a warning when it runs low. `null`: libvirt could not be
// asked just now.
function renderCapacity(box, capacity, w) {
  const heading = element('h2', { id: 'capacity-heading' }, w.capacity);
  if (!capacity) {
    box.replaceChildren(heading, element('p', { class: 'muted', role: 'status' }, w.capacity_unreadable));
    return;
  }
  const c = capacity;
  const rows = [
    [w.vcpus_allocated, 'vcpus', fill(w.vcpus_value, {
      allocated: c.vcpus_allocated, host: c.host_cpus, running: c.vcpus_running, overcommit: ratio(c.cpu_overcommit) })],
    [w.memory_allocated, 'memory', fill(w.memory_value, {
      allocated: c.memory_allocated_mib, host: c.host_memory_mib, running: c.memory_running_mib, overcommit: ratio(c.memory_overcommit) })],
    [w.data_dir, 'disk', fill(w.disk_value, {
      free: gib(c.disk_free_bytes), total: gib(c.disk_total_bytes), used: gib(Math.max(0, c.disk_total_bytes - c.disk_free_bytes)) })],
  ];
  const list = element('dl', { class: 'capacity', 'aria-label': w.capacity });
  for (const [term, key, text] of rows) list.append(element('dt', {}, term), element('dd', { 'data-field': key }, text));
  const warning = c.disk_low
    ? [element('p', { class: 'warning', role: 'alert' }, fill(w.disk_low, { free: gib(c.disk_free_bytes) }))]
    : [];
  box.replaceChildren(heading, ...warning, list);
}

// A page's graphs: a range switch (the last hour is live: each new point of `${base}/live` is
// added as it comes) and the charts of the chosen range; on the host page, the capacity above.
// `mount(target, { kind: 'vm' | 'host', base: '/api/v1/…/stats', words })` (`words`: from
// `wordsOf`) returns `{ ready, destroy() }`.
export function mount(target, { kind = 'vm', base, words = wordsOf() } = {}) {
  let shown = null;
  let destroyed = false;
  const capacity = kind === 'host' ? element('section', { 'aria-labelledby': 'capacity-heading' }) : null;
  const bar = element('div', { class: 'graph-ranges', role: 'group', 'aria-label': words.range_group });
  const charts = element('div');
  const buttons = RANGES.map(([range, label]) => {
    const button = element('button', { type: 'button', 'aria-pressed': 'false' }, words[label]);
    // A failure is said in the charts' place.
    button.addEventListener('click', () => show(range).catch(() => {}));
    bar.append(button);
    return [range, button];
  });
  target.replaceChildren(...(capacity ? [capacity, element('h2', {}, words.usage)] : []), bar, charts);

  function show(range) {
    if (destroyed) return Promise.resolve();
    for (const [r, button] of buttons) button.setAttribute('aria-pressed', String(r === range));
    shown?.destroy();
    shown = drawCharts(charts, {
      kind,
      history: `${base}?range=${range}`,
      live: range === '1h' ? `${base}/live` : null,
      onBody: capacity ? (body) => renderCapacity(capacity, body?.capacity, words) : null,
      words,
    });
    return shown.ready;
  }

  return {
    ready: show('1h'),
    destroy() {
      destroyed = true;
      shown?.destroy();
      shown = null;
      target.replaceChildren();
    },
  };
}

// Every `[data-graphs-base]` element of the page gets its graphs, and loses them when it leaves
// the page (the pages are the dashboard's: elements come and go as it navigates). A module
// script runs once per page load, however many times the pages add it.
const mounted = new Map();
function follow() {
  for (const area of document.querySelectorAll('[data-graphs-base]')) {
    if (mounted.has(area)) continue;
    const graphs = mount(area, {
      kind: area.dataset.graphsKind,
      base: area.dataset.graphsBase,
      words: wordsOf(area.dataset.graphsWords),
    });
    // A failure is said in the area itself.
    graphs.ready.catch(() => {});
    mounted.set(area, graphs);
  }
  for (const [area, graphs] of mounted) {
    if (!area.isConnected) {
      graphs.destroy();
      mounted.delete(area);
    }
  }
}
new MutationObserver(follow).observe(document.body, { childList: true, subtree: true });
follow();
