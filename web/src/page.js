// The interactive part of report.html. The page's static part (header, verdicts, failures) is
// written by benchmatrix; this script draws the charts, the pivot control and the task table from
// the JSON in <script id="bm-data">. Everything from the results is put into the page as text
// (textContent, Vega's text marks), never as markup. Vega runs without eval: expressions go
// through vega-interpreter, as the page's Content-Security-Policy demands.
import embed from 'vega-embed';
import { expressionInterpreter } from 'vega-interpreter';
import {
  FOREST_MAX, TIMELINE_MAX, defaultState, distributionSpec, forestSpec, heatmapSpec, monitorSpec, pivotRows, pivotSpec, sequenceSpec,
} from './charts.js';

const data = JSON.parse(document.getElementById('bm-data').textContent);

const EMBED_OPTIONS = {
  mode: 'vega-lite',
  renderer: 'svg',
  ast: true,
  expr: expressionInterpreter,
  // Saving as SVG or PNG works offline; the editor and source views would leave the page.
  actions: { export: true, source: false, compiled: false, editor: false },
  tooltip: true,
};

function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (key === 'text') node.textContent = value;
    else if (key === 'on') for (const [event, handler] of Object.entries(value)) node.addEventListener(event, handler);
    else if (value !== undefined && value !== null && value !== false) node.setAttribute(key, value === true ? '' : value);
  }
  for (const child of children) if (child) node.append(child);
  return node;
}

async function draw(container, spec, name) {
  container.replaceChildren();
  if (!spec) {
    container.append(el('p', { class: 'empty', text: 'Nothing to draw for this selection.' }));
    return;
  }
  const target = el('div', { class: 'chart', 'data-chart': name });
  container.append(target);
  try {
    await embed(target, spec, { ...EMBED_OPTIONS, downloadFileName: `${data.name}-${name}` });
  } catch (error) {
    target.append(el('p', { class: 'error', text: `This chart could not be drawn: ${error.message}` }));
    console.error(error);
  }
}

// ----- the pivot's state, kept in the URL hash so that a view can be linked -----

function stateFromHash() {
  const state = defaultState(data);
  const params = new URLSearchParams(location.hash.slice(1));
  const axisIndex = (name) => data.axes.findIndex((axis) => axis.name === name);
  if (params.has('metric') && data.metrics.some((m) => m.name === params.get('metric'))) state.metric = params.get('metric');
  for (const key of ['x', 'color', 'facet']) {
    if (!params.has(key)) continue;
    const value = params.get(key);
    const index = value === '' ? -1 : axisIndex(value);
    if (index >= 0 || key !== 'x') state[key] = index;
  }
  if (params.get('mode') === 'ratio' || params.get('mode') === 'absolute') state.mode = params.get('mode');
  if (params.has('base')) {
    const [axis, ...rest] = params.get('base').split('=');
    const index = axisIndex(axis);
    if (index >= 0) {
      state.baseAxis = index;
      state.baseValue = rest.join('=');
    }
  }
  for (const [key, value] of params) {
    if (key.startsWith('f.') && axisIndex(key.slice(2)) >= 0) state.filters[key.slice(2)] = value === '' ? [] : value.split('\u001f');
  }
  state.detail = params.get('detail') ?? '';
  return state;
}

function hashFromState(state) {
  const params = new URLSearchParams();
  const name = (index) => (index >= 0 ? data.axes[index].name : '');
  params.set('metric', state.metric);
  params.set('x', name(state.x));
  params.set('color', name(state.color));
  params.set('facet', name(state.facet));
  params.set('mode', state.mode);
  if (state.baseAxis >= 0 && state.baseValue !== undefined) params.set('base', `${name(state.baseAxis)}=${state.baseValue}`);
  for (const [axis, values] of Object.entries(state.filters)) params.set(`f.${axis}`, values.join('\u001f'));
  if (state.detail) params.set('detail', state.detail);
  return `#${params.toString()}`;
}

let state = stateFromHash();

function setState(change) {
  state = { ...state, ...change };
  history.replaceState(null, '', hashFromState(state));
  render();
}

window.addEventListener('hashchange', () => {
  state = stateFromHash();
  render();
});

// ----- the pivot control -----

function select(label, options, value, onChange, id) {
  const control = el('select', { id, on: { change: (event) => onChange(event.target.value) } });
  for (const [optionValue, text] of options) {
    control.append(el('option', { value: String(optionValue), text, selected: String(optionValue) === String(value) }));
  }
  return el('label', {}, el('span', { text: label }), control);
}

function pivotControl() {
  const box = document.getElementById('pivot-control');
  box.replaceChildren();
  const axisOptions = data.axes.map((axis, a) => [a, axis.name]);
  const none = [[-1, '(none)']];
  box.append(
    select('metric', data.metrics.map((m) => [m.name, m.unit ? `${m.name} (${m.unit})` : m.name]), state.metric, (v) => setState({ metric: v }), 'pivot-metric'),
    select('x axis', axisOptions, state.x, (v) => setState({ x: Number(v) }), 'pivot-x'),
    select('colour', none.concat(axisOptions), state.color, (v) => setState({ color: Number(v) }), 'pivot-color'),
    select('facet', none.concat(axisOptions), state.facet, (v) => setState({ facet: Number(v) }), 'pivot-facet'),
    select('values', [['absolute', 'absolute'], ['ratio', 'ratio to a baseline']], state.mode, (v) => setState({ mode: v }), 'pivot-mode'),
  );
  if (state.mode === 'ratio') {
    const options = [];
    data.axes.forEach((axis, a) => axis.values.forEach((value) => options.push([`${a}\u001f${value}`, `${axis.name} = ${value}`])));
    box.append(select('baseline', options, `${state.baseAxis}\u001f${state.baseValue}`, (v) => {
      const [a, ...value] = v.split('\u001f');
      setState({ baseAxis: Number(a), baseValue: value.join('\u001f') });
    }, 'pivot-base'));
  }
  // Filters: only values that exist in the results are offered.
  const filters = el('div', { class: 'filters' });
  data.axes.forEach((axis) => {
    if (axis.values.length < 2) return;
    const chosen = state.filters[axis.name];
    const group = el('fieldset', {}, el('legend', { text: axis.name }));
    for (const value of axis.values) {
      const box = el('input', { type: 'checkbox', checked: !chosen || chosen.includes(value), 'data-axis': axis.name, 'data-value': value });
      box.addEventListener('change', () => {
        const all = [...group.querySelectorAll('input')];
        const checked = all.filter((i) => i.checked).map((i) => i.dataset.value);
        const filtersNow = { ...state.filters };
        if (checked.length === all.length) delete filtersNow[axis.name];
        else filtersNow[axis.name] = checked;
        setState({ filters: filtersNow });
      });
      group.append(el('label', { class: 'check' }, box, document.createTextNode(value)));
    }
    filters.append(group);
  });
  box.append(filters);
  const { rows, dropped } = pivotRows(data, state);
  const note = `${rows.length} task${rows.length === 1 ? '' : 's'} shown` +
    (dropped ? `; ${dropped} without a baseline task at the same values of the other axes left out` : '') +
    '. This view is in the address bar: copy it to share it.';
  box.append(el('p', { class: 'note', id: 'pivot-note', text: note }));
}

// ----- task detail: distributions and samples over time -----

// The pairs (regressions first) and tasks to choose from: at most DETAIL_MAX of each in the list,
// a linked choice beyond it still shown.
const DETAIL_MAX = 500;

function detailChoices() {
  const pairs = [];
  const tasks = [];
  data.comparisons.forEach((c, i) => {
    if (c.task >= 0 && c.baseline_task >= 0 && data.tasks[c.task].sampled) pairs.push([`c${i}`, `${c.label} against ${c.baseline} (${c.summary})`]);
  });
  data.tasks.forEach((task, i) => {
    if (task.sampled) tasks.push([`t${i}`, task.label]);
  });
  const choices = [...pairs.slice(0, DETAIL_MAX), ...tasks.slice(0, DETAIL_MAX)];
  const linked = [...pairs, ...tasks].find(([value]) => value === state.detail);
  if (linked && !choices.includes(linked)) choices.push(linked);
  return choices;
}

function detailTasks(choice) {
  if (choice.startsWith('c')) {
    const c = data.comparisons[Number(choice.slice(1))];
    return c ? [c.baseline_task, c.task] : [];
  }
  const t = Number(choice.slice(1));
  return data.tasks[t] ? [t] : [];
}

async function renderDetail() {
  const box = document.getElementById('detail');
  if (!box) return;
  const choices = detailChoices();
  if (!choices.length) {
    box.replaceChildren(el('p', { class: 'empty', text: 'No raw samples are embedded in this report (see the note on samples above).' }));
    return;
  }
  const choice = choices.some(([value]) => value === state.detail) ? state.detail : choices[0][0];
  const colorBy = state.colorBy || 'slot';
  const controls = el('div', { class: 'controls' },
    select('task or pair', choices, choice, (v) => setState({ detail: v }), 'detail-select'),
    select('colour samples by', [['slot', 'slot'], ['cpus', 'cores'], ['gpus', 'GPUs'], ['task', 'task']], colorBy, (v) => setState({ colorBy: v }), 'detail-color'));
  const distribution = el('div');
  const sequence = el('div');
  box.replaceChildren(controls, el('h3', { text: 'Distribution' }), distribution, el('h3', { text: 'Samples in the order they were taken' }), sequence);
  const tasks = detailTasks(choice).filter((t) => data.tasks[t]?.sampled);
  await Promise.all([
    draw(distribution, distributionSpec(data, tasks, state.metric), 'distribution'),
    draw(sequence, sequenceSpec(data, tasks, state.metric, { colorBy }), 'sequence'),
  ]);
}

// ----- the table of every task -----

const table = { sort: -1, descending: false, filter: '', page: 0, size: 100 };

function tableRows() {
  const rows = data.tasks.map((task, i) => ({ kind: 'task', i, task, status: task.status || 'succeeded', stats: task.stats[state.metric] }));
  for (const task of data.unfinished) rows.push({ kind: 'unfinished', task, status: task.state, stats: undefined });
  return rows;
}

function renderTable() {
  const box = document.getElementById('task-table');
  if (!box) return;
  const columns = [
    { title: 'status', value: (r) => r.status },
    ...data.axes.map((axis, a) => ({ title: axis.name, value: (r) => r.task.axes[a], numeric: axis.numeric })),
    { title: 'median', value: (r) => r.stats?.median, numeric: true, format: true },
    { title: 'interval', value: (r) => r.stats?.lo, numeric: true, text: (r) => (r.stats && r.stats.lo !== undefined ? `[${fmt(r.stats.lo)}, ${fmt(r.stats.hi)}]` : '') },
    { title: 'cv', value: (r) => r.stats?.cv, numeric: true, text: (r) => (r.stats?.cv !== undefined ? `${(r.stats.cv * 100).toFixed(1)}%` : '') },
    { title: 'n', value: (r) => r.stats?.n, numeric: true },
    { title: 'slot', value: (r) => r.task.slot },
    { title: 'cores', value: (r) => r.task.cpus },
    { title: 'GPUs', value: (r) => r.task.gpus },
    { title: 'notes', value: (r) => r.task.reason || r.task.disturbed || '' },
  ];
  let rows = tableRows();
  if (table.filter) {
    const needle = table.filter.toLowerCase();
    rows = rows.filter((r) => `${r.status} ${r.task.label} ${r.task.reason || ''}`.toLowerCase().includes(needle));
  }
  if (table.sort >= 0) {
    const column = columns[table.sort];
    rows.sort((p, q) => {
      const a = column.value(p);
      const b = column.value(q);
      if (a === undefined || a === '') return 1;
      if (b === undefined || b === '') return -1;
      const order = column.numeric && !Number.isNaN(Number(a)) && !Number.isNaN(Number(b)) ? Number(a) - Number(b) : String(a).localeCompare(String(b), undefined, { numeric: true });
      return table.descending ? -order : order;
    });
  }
  const pages = Math.max(1, Math.ceil(rows.length / table.size));
  table.page = Math.min(table.page, pages - 1);
  const shown = rows.slice(table.page * table.size, (table.page + 1) * table.size);
  const head = el('tr');
  columns.forEach((column, c) => {
    const mark = table.sort === c ? (table.descending ? ' \u25bc' : ' \u25b2') : '';
    head.append(el('th', { 'data-column': column.title, on: { click: () => { table.descending = table.sort === c ? !table.descending : false; table.sort = c; renderTable(); } } },
      document.createTextNode(column.title + mark)));
  });
  head.append(el('th', { text: 'logs' }));
  const body = el('tbody');
  for (const row of shown) {
    const tr = el('tr', { class: `status-${row.status.replace(/\s/g, '-')}` });
    for (const column of columns) {
      const value = column.text ? column.text(row) : column.value(row);
      tr.append(el('td', { text: value === undefined ? '' : column.format ? fmt(value) : String(value) }));
    }
    const logs = el('td');
    for (const log of row.task.logs || []) logs.append(el('a', { href: log.href, text: log.name }), document.createTextNode(' '));
    tr.append(logs);
    body.append(tr);
  }
  const pager = el('div', { class: 'pager' },
    el('button', { text: '\u2039 previous', disabled: table.page === 0, on: { click: () => { table.page--; renderTable(); } } }),
    el('span', { text: ` page ${table.page + 1} of ${pages} (${rows.length} tasks; ${state.metric}) ` }),
    el('button', { text: 'next \u203a', disabled: table.page >= pages - 1, on: { click: () => { table.page++; renderTable(); } } }));
  // The search box stays as it is while the table under it is redrawn (typing goes on in it).
  if (!document.getElementById('task-filter')) {
    const search = el('input', { type: 'search', placeholder: 'filter tasks (status, axis values, reason)', id: 'task-filter' });
    search.addEventListener('input', (event) => { table.filter = event.target.value; table.page = 0; renderTable(); });
    box.replaceChildren(search, el('div', { id: 'task-table-body' }));
  }
  document.getElementById('task-table-body').replaceChildren(el('table', { class: 'tasks' }, el('thead', {}, head), body), pager);
}

function fmt(value) {
  if (typeof value !== 'number' || !Number.isFinite(value)) return value === undefined ? '' : String(value);
  return Math.abs(value) >= 1e5 || (Math.abs(value) < 1e-3 && value !== 0) ? value.toExponential(3) : String(+value.toPrecision(4));
}

// ----- putting it together -----

let drawn = Promise.resolve();

function render() {
  pivotControl();
  const pivot = document.getElementById('pivot-chart');
  const heatmap = document.getElementById('heatmap');
  const jobs = [draw(pivot, pivotSpec(data, state), 'pivot')];
  if (heatmap) jobs.push(draw(heatmap, data.axes.length >= 2 ? heatmapSpec(data, state) : null, 'heatmap'));
  jobs.push(renderDetail());
  renderTable();
  drawn = Promise.all(jobs);
  document.body.dataset.rendered = 'pending';
  drawn.then(() => { document.body.dataset.rendered = 'yes'; });
}

async function start() {
  const once = [];
  const forest = document.getElementById('forest');
  if (forest) {
    once.push(draw(forest, forestSpec(data), 'forest'));
    const measured = data.comparisons.filter((c) => c.ratio !== undefined).length;
    if (measured > FOREST_MAX) {
      forest.after(el('p', { class: 'note', text: `The first ${FOREST_MAX} of ${measured} measured comparisons, in the verdict table's order; the table lists them all.` }));
    }
  }
  const timeline = document.getElementById('timeline');
  if (timeline) {
    const sampled = data.tasks.map((_, i) => i).filter((i) => data.tasks[i].sampled);
    once.push(draw(timeline, sequenceSpec(data, sampled, data.metric, { normalize: true }), 'timeline'));
    const points = data.samples.metric.filter((m) => m === 0).length;
    if (points > TIMELINE_MAX) {
      timeline.after(el('p', { class: 'note', text: `${TIMELINE_MAX} of ${points} samples, evenly thinned.` }));
    }
  }
  const monitor = document.getElementById('monitor');
  if (monitor) once.push(draw(monitor, monitorSpec(data), 'monitor'));
  render();
  await Promise.all([...once, drawn]);
  document.body.dataset.readyAt = String(Math.round(performance.now()));
  document.body.dataset.ready = 'yes';
}

start();
