// Vega-Lite specifications of the report's charts, built from the report's data (the JSON that
// benchmatrix embeds in report.html). Shared by the page and by the Node.js renderer behind
// `report --export-plots`, so both draw the same charts. Pure: no DOM.
//
// Field names inside the specs are generated (a0, a1, ...): axis names and values come from the
// results and may hold dots, brackets or markup, which Vega-Lite would read as field paths. They
// appear only as titles and data values, which Vega renders as text.

export const VERDICT_COLORS = {
  regressed: '#c0392b',
  improved: '#1e8449',
  unchanged: '#7f8c8d',
  inconclusive: '#d68910',
  failed: '#6c3483',
  'timed out': '#6c3483',
  missing: '#34495e',
  new: '#2471a3',
};

const WIDTH = 560;
// Large matrices stay usable: at most this many rows in the forest plot (the comparisons come
// regressions first, as in the verdict table, which lists them all) and points in the whole
// run's timeline (thinned evenly beyond it).
export const FOREST_MAX = 300;
export const TIMELINE_MAX = 5000;
// Cells of a heatmap that still carry their value as text (beyond, colour and tooltip alone).
export const HEATMAP_LABELS_MAX = 400;

export function axisField(index) {
  return `a${index}`;
}

export function metricInfo(data, name) {
  return data.metrics.find((m) => m.name === name) || { name, unit: '', direction: 'lower' };
}

function metricTitle(data, name) {
  const info = metricInfo(data, name);
  return info.unit ? `${name} (${info.unit})` : name;
}

// Whether the values of a numeric axis span at least 100x: such an axis is drawn on a log scale.
export function logScaleFor(values) {
  const positive = values.filter((v) => typeof v === 'number' && v > 0);
  if (positive.length < 2) return false;
  return Math.max(...positive) / Math.min(...positive) >= 100;
}

// One row per finished task that has `metric`: its axis values and the median with its interval.
export function taskRows(data, metric) {
  const rows = [];
  data.tasks.forEach((task, index) => {
    const stats = task.stats[metric];
    if (!stats) return;
    const row = { task: index, label: task.label, value: stats.median, lo: stats.lo, hi: stats.hi, n: stats.n };
    data.axes.forEach((axis, a) => {
      row[axisField(a)] = task.axes[a];
      if (axis.numeric) row[`n${a}`] = Number(task.axes[a]);
    });
    rows.push(row);
  });
  return rows;
}

// The pivot's rows: filtered, and in ratio mode divided by the baseline task's median at the same
// values of every other axis (rows without such a baseline are left out, and counted).
export function pivotRows(data, state) {
  let rows = taskRows(data, state.metric);
  rows = rows.filter((row) =>
    data.axes.every((axis, a) => !state.filters[axis.name] || state.filters[axis.name].includes(row[axisField(a)])));
  let dropped = 0;
  if (state.mode === 'ratio' && state.baseAxis !== undefined && state.baseAxis >= 0) {
    const b = state.baseAxis;
    const key = (row) => data.axes.map((_, a) => (a === b ? '' : row[axisField(a)])).join('\u001f');
    const base = new Map();
    for (const row of rows) {
      if (row[axisField(b)] === state.baseValue) base.set(key(row), row);
    }
    const ratios = [];
    for (const row of rows) {
      const reference = base.get(key(row));
      if (!reference || !(reference.value > 0)) {
        dropped++;
        continue;
      }
      ratios.push({
        ...row,
        value: row.value / reference.value,
        lo: row.lo !== undefined ? row.lo / reference.value : undefined,
        hi: row.hi !== undefined ? row.hi / reference.value : undefined,
      });
    }
    rows = ratios;
  }
  return { rows, dropped };
}

function axisEncoding(data, a, rows, channel) {
  const axis = data.axes[a];
  if (axis.numeric) {
    const values = rows.map((r) => r[`n${a}`]);
    return { field: `n${a}`, type: 'quantitative', title: axis.name, scale: { type: logScaleFor(values) ? 'log' : 'linear' } };
  }
  return { field: axisField(a), type: 'nominal', title: axis.name, sort: axis.values, ...(channel === 'x' ? { axis: { labelLimit: 160 } } : {}) };
}

function valueTitle(data, state) {
  return state.mode === 'ratio'
    ? `${state.metric} / ${data.axes[state.baseAxis].name}=${state.baseValue}`
    : metricTitle(data, state.metric);
}

// The pivot chart: the metric's median (with its interval) against the x axis, one line or
// colour per value of the colour axis, one panel per value of the facet axis. Over a numeric x
// axis this is the scaling view.
export function pivotSpec(data, state) {
  const { rows } = pivotRows(data, state);
  const x = axisEncoding(data, state.x, rows, 'x');
  const logY = logScaleFor(rows.map((r) => r.value));
  const y = { field: 'value', type: 'quantitative', title: valueTitle(data, state), scale: logY ? { type: 'log' } : { zero: false } };
  // A legend of more than 40 entries says nothing (Vega would cut it, with a warning): the tooltip does.
  const color = state.color >= 0
    ? { field: axisField(state.color), type: 'nominal', title: data.axes[state.color].name, sort: data.axes[state.color].values,
        ...(data.axes[state.color].values.length > 40 ? { legend: null } : {}) }
    : { value: '#2471a3' };
  // The axes that are neither x, colour nor facet still tell tasks apart: each keeps a line of its own.
  const detail = data.axes.map((_, a) => a)
    .filter((a) => a !== state.x && a !== state.color && a !== state.facet && data.axes[a].values.length > 1)
    .map((a) => ({ field: axisField(a), type: 'nominal' }));
  const tooltip = [
    { field: 'label', title: 'task' },
    { field: 'value', title: state.mode === 'ratio' ? 'ratio' : 'median', format: '.4~g' },
    { field: 'lo', title: 'interval low', format: '.4~g' },
    { field: 'hi', title: 'interval high', format: '.4~g' },
    { field: 'n', title: 'samples' },
  ];
  const layers = [
    { mark: { type: 'errorbar', ticks: true }, encoding: { x, y: { field: 'lo', type: 'quantitative', title: y.title, scale: y.scale }, y2: { field: 'hi' }, color, detail } },
    { mark: x.type === 'quantitative' ? { type: 'line', point: true } : { type: 'point', filled: true, size: 60 }, encoding: { x, y, color, detail, tooltip } },
  ];
  if (state.mode === 'ratio') {
    layers.push({ mark: { type: 'rule', strokeDash: [4, 3], color: '#555' }, encoding: { y: { datum: 1 } } });
  }
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    data: { values: rows },
    width: state.facet >= 0 ? 260 : WIDTH,
    height: 280,
    layer: layers,
  };
  if (state.facet >= 0) {
    const facet = { field: axisField(state.facet), type: 'nominal', title: data.axes[state.facet].name, sort: data.axes[state.facet].values };
    return { $schema: spec.$schema, data: spec.data, facet, columns: 3, spec: { width: 260, height: 220, layer: layers } };
  }
  return spec;
}

// A heatmap of the metric: the x axis across, the combination of the other axes down (seed 004's
// model x config against benchmark_subset), each cell the median (or ratio).
export function heatmapSpec(data, state) {
  const { rows } = pivotRows(data, state);
  const others = data.axes.map((_, a) => a).filter((a) => a !== state.x);
  for (const row of rows) {
    row.rowLabel = others.length ? others.map((a) => row[axisField(a)]).join(' / ') : '(all)';
    row.colLabel = row[axisField(state.x)];
  }
  const ratio = state.mode === 'ratio';
  const info = metricInfo(data, state.metric);
  // In ratio mode red means worse: a high ratio of a lower-is-better metric, a low one of a higher-is-better one.
  const scheme = ratio ? { scheme: 'redyellowgreen', reverse: info.direction !== 'higher' } : { scheme: 'viridis' };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    data: { values: rows },
    width: Math.min(WIDTH, Math.max(120, 40 * data.axes[state.x].values.length)),
    height: { step: 18 },
    encoding: {
      x: { field: 'colLabel', type: 'ordinal', title: data.axes[state.x].name, sort: data.axes[state.x].values },
      y: { field: 'rowLabel', type: 'ordinal', title: others.map((a) => data.axes[a].name).join(' / ') || ' ' },
    },
    layer: [
      {
        mark: 'rect',
        encoding: {
          color: {
            field: 'value', type: 'quantitative', title: valueTitle(data, state),
            scale: ratio ? { type: 'log', ...scheme, domainMid: 1 } : { ...scheme, type: logScaleFor(rows.map((r) => r.value)) ? 'log' : 'linear' },
          },
          tooltip: [{ field: 'label', title: 'task' }, { field: 'value', title: ratio ? 'ratio' : 'median', format: '.4~g' }],
        },
      },
      ...(rows.length <= HEATMAP_LABELS_MAX
        ? [{ mark: { type: 'text', fontSize: 10 }, encoding: { text: { field: 'value', type: 'quantitative', format: '.3~g' }, color: { value: '#000' } } }]
        : []),
    ],
  };
}

// The forest plot: one row per measured comparison, the ratio and its interval on a log axis
// centred on 1, the noise band [1/(1+t), 1+t] shaded, coloured by verdict.
export function forestSpec(data) {
  const rows = data.comparisons.filter((c) => c.ratio !== undefined).slice(0, FOREST_MAX).map((c, i) => ({ ...c, order: i }));
  if (!rows.length) return null;
  const t = data.analysis.threshold;
  let lo = Math.min(1 / (1 + t), ...rows.map((r) => r.lo ?? r.ratio));
  let hi = Math.max(1 + t, ...rows.map((r) => r.hi ?? r.ratio));
  const span = Math.max(hi, 1 / lo) * 1.05;
  const domain = [1 / span, span];
  const y = { field: 'label', type: 'nominal', sort: { field: 'order' }, title: null, axis: { labelLimit: 320 } };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    width: WIDTH,
    height: { step: 22 },
    layer: [
      { data: { values: [{ lo: 1 / (1 + t), hi: 1 + t }] }, mark: { type: 'rect', color: '#bbb', opacity: 0.35 },
        encoding: { x: { field: 'lo', type: 'quantitative', scale: { type: 'log', domain } }, x2: { field: 'hi' } } },
      { data: { values: [{ one: 1 }] }, mark: { type: 'rule', color: '#555' }, encoding: { x: { field: 'one', type: 'quantitative' } } },
      {
        data: { values: rows },
        layer: [
          { mark: { type: 'rule', strokeWidth: 2 }, encoding: { y, x: { field: 'lo', type: 'quantitative' }, x2: { field: 'hi' }, color: { field: 'verdict', type: 'nominal', scale: verdictScale(rows), legend: null } } },
          {
            mark: { type: 'point', filled: true, size: 70 },
            encoding: {
              y,
              x: { field: 'ratio', type: 'quantitative', title: `ratio new / baseline (${data.metric}, log scale; shaded: \u00b1${+(t * 100).toFixed(3)}%)`, scale: { type: 'log', domain } },
              color: { field: 'verdict', type: 'nominal', scale: verdictScale(rows), title: 'verdict' },
              tooltip: [{ field: 'label', title: 'task' }, { field: 'baseline', title: 'baseline' }, { field: 'summary', title: 'verdict' },
                { field: 'ratio', format: '.4f' }, { field: 'lo', title: 'interval low', format: '.4f' }, { field: 'hi', title: 'interval high', format: '.4f' }, { field: 'p', title: 'p (adjusted)', format: '.3g' }],
            },
          },
        ],
      },
    ],
  };
}

function verdictScale(rows) {
  const domain = [...new Set(rows.map((r) => r.verdict))];
  return { domain, range: domain.map((v) => VERDICT_COLORS[v] || '#999') };
}

// The raw samples of some tasks (those embedded), as rows.
export function sampleRows(data, tasks, metric) {
  const s = data.samples;
  const m = data.metrics.findIndex((x) => x.name === metric);
  const wanted = new Set(tasks);
  const rows = [];
  for (let i = 0; i < s.task.length; i++) {
    if (s.metric[i] !== m || !wanted.has(s.task[i])) continue;
    const task = data.tasks[s.task[i]];
    rows.push({ task: task.label, run: s.run[i], value: s.value[i], t: s.t[i] * 1000, slot: task.slot || '?', cpus: task.cpus || '', gpus: task.gpus || '' });
  }
  return rows;
}

// Distribution: a box per task with every sample on it.
export function distributionSpec(data, tasks, metric) {
  const rows = sampleRows(data, tasks, metric);
  if (!rows.length) return null;
  const y = { field: 'task', type: 'nominal', title: null, sort: tasks.map((t) => data.tasks[t].label), axis: { labelLimit: 320 } };
  const x = { field: 'value', type: 'quantitative', title: metricTitle(data, metric), scale: { zero: false } };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    data: { values: rows },
    width: WIDTH,
    height: { step: 46 },
    layer: [
      // Whiskers from min to max: every sample is drawn as a tick anyway.
      { mark: { type: 'boxplot', extent: 'min-max', opacity: 0.5, size: 26 }, encoding: { y, x, color: { field: 'task', type: 'nominal', legend: null } } },
      { mark: { type: 'tick', color: '#222', thickness: 1, size: 14, opacity: 0.7 }, encoding: { y, x, tooltip: [{ field: 'task' }, { field: 'run' }, { field: 'value', format: '.4~g' }] } },
    ],
  };
}

// Sequence: each sample against the time it was taken, coloured by where it ran, so drift,
// warm-up and neighbours show. With `normalize`, each value is divided by its task's median so
// tasks of any size share one axis (the whole run at once).
export function sequenceSpec(data, tasks, metric, { normalize = false, colorBy = 'slot' } = {}) {
  let rows = sampleRows(data, tasks, metric);
  if (!rows.length) return null;
  if (normalize) {
    const medians = new Map();
    for (const t of tasks) {
      const stats = data.tasks[t].stats[metric];
      if (stats) medians.set(data.tasks[t].label, stats.median);
    }
    rows = rows.filter((r) => medians.get(r.task) > 0).map((r) => ({ ...r, value: r.value / medians.get(r.task) }));
    if (rows.length > TIMELINE_MAX) {
      const step = rows.length / TIMELINE_MAX;
      rows = Array.from({ length: TIMELINE_MAX }, (_, i) => rows[Math.floor(i * step)]);
    }
  }
  const colorTitle = { slot: 'slot', cpus: 'cores', gpus: 'GPUs', task: 'task' }[colorBy] || colorBy;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    data: { values: rows },
    width: WIDTH,
    height: 240,
    mark: { type: 'point', filled: true, size: 28, opacity: 0.75 },
    encoding: {
      x: { field: 't', type: 'temporal', title: 'when the run started' },
      y: { field: 'value', type: 'quantitative', title: normalize ? `${metric} / task median` : metricTitle(data, metric), scale: { zero: false } },
      color: { field: colorBy, type: 'nominal', title: colorTitle },
      shape: normalize ? undefined : { field: 'task', type: 'nominal', legend: tasks.length <= 8 ? {} : null },
      tooltip: [{ field: 'task' }, { field: 'run' }, { field: 'value', format: '.4~g' }, { field: 'slot' }, { field: 'cpus', title: 'cores' }, { field: 'gpus', title: 'GPUs' }],
    },
  };
}

// One metric's median per task as horizontal bars (the memory plot, and the comparison plot of
// a run without a baseline).
export function barSpec(data, metric, { title } = {}) {
  const rows = taskRows(data, metric);
  if (!rows.length) return null;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: title || undefined,
    data: { values: rows },
    width: WIDTH,
    height: { step: 16 },
    layer: [
      { mark: 'bar', encoding: { y: { field: 'label', type: 'nominal', sort: null, title: null, axis: { labelLimit: 320 } }, x: { field: 'value', type: 'quantitative', title: metricTitle(data, metric) }, tooltip: [{ field: 'label', title: 'task' }, { field: 'value', title: 'median', format: '.4~g' }, { field: 'n', title: 'samples' }] } },
      { mark: { type: 'errorbar', ticks: true }, encoding: { y: { field: 'label', type: 'nominal', sort: null }, x: { field: 'lo', type: 'quantitative' }, x2: { field: 'hi' } } },
    ],
  };
}

// Monitor timelines: each series of the tasks' monitor.csv against time, one panel per series.
export function monitorSpec(data, series) {
  const rows = [];
  for (const entry of data.monitor.tasks) {
    const label = data.tasks[entry.task]?.label ?? entry.label;
    const columns = entry.columns;
    for (const row of entry.rows) {
      for (let c = 1; c < columns.length; c++) {
        if (series && !series(columns[c])) continue;
        if (row[c] === null || row[c] === undefined) continue;
        rows.push({ task: label, t: row[0] * 1000, series: columns[c], value: row[c] });
      }
    }
  }
  if (!rows.length) return null;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    data: { values: rows },
    facet: { row: { field: 'series', type: 'nominal', title: null } },
    resolve: { scale: { y: 'independent' } },
    spec: {
      width: WIDTH,
      height: 120,
      mark: { type: 'line', interpolate: 'step-after' },
      encoding: {
        x: { field: 't', type: 'temporal', title: 'time' },
        y: { field: 'value', type: 'quantitative', title: null },
        color: { field: 'task', type: 'nominal', legend: rows.length && new Set(rows.map((r) => r.task)).size <= 12 ? {} : null },
        tooltip: [{ field: 'task' }, { field: 'series' }, { field: 'value', format: '.4~g' }],
      },
    },
  };
}

// The pivot's state when nothing is chosen: the compared metric; x the first numeric axis with
// more than one value (a scaling view), else the first axis; colour the baseline axis or the next.
export function defaultState(data) {
  const varied = data.axes.map((axis, a) => ({ axis, a })).filter(({ axis }) => axis.values.length > 1);
  const numeric = varied.find(({ axis }) => axis.numeric);
  const x = numeric ? numeric.a : varied.length ? varied[0].a : 0;
  const baseAxis = data.axes.findIndex((axis) => axis.name === data.analysis.baseline_axis);
  let color = baseAxis >= 0 && baseAxis !== x ? baseAxis : -1;
  if (color < 0) {
    const other = varied.find(({ a }) => a !== x);
    color = other ? other.a : -1;
  }
  // A third axis with several values gets a panel per value.
  const third = varied.find(({ a }) => a !== x && a !== color);
  return {
    metric: data.metric,
    x,
    color,
    facet: third ? third.a : -1,
    filters: {},
    mode: 'absolute',
    baseAxis: baseAxis >= 0 ? baseAxis : color,
    baseValue: baseAxis >= 0 ? data.analysis.baseline_value : color >= 0 ? data.axes[color].values[0] : undefined,
  };
}
