// `benchmatrix report --export-plots DIR` runs this under Node.js:
//   node render.mjs DATA.json DIR
// It draws the standard plots (comparison, scaling, memory, GPU use) from the same report data and
// with the same chart definitions as report.html, as SVG files, and prints one JSON line per plot:
// {"plot": NAME, "file": PATH} or {"plot": NAME, "skipped": WHY}.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as vega from 'vega';
import { compile } from 'vega-lite';
import { expressionInterpreter } from 'vega-interpreter';
import { barSpec, defaultState, forestSpec, monitorSpec, pivotSpec } from './charts.js';

const [dataPath, outDir] = process.argv.slice(2);
const data = JSON.parse(readFileSync(dataPath, 'utf8'));

function memoryMetric() {
  for (const name of ['cgroup_memory_peak', 'max_rss', 'max_rss_kib']) {
    if (data.metrics.some((m) => m.name === name)) return name;
  }
  return data.metrics.find((m) => /mem|rss/i.test(m.name))?.name;
}

function plots() {
  const list = [];
  const forest = forestSpec(data);
  list.push(['comparison', forest || barSpec(data, data.metric, { title: `${data.metric}: median per task` }), 'no finished task has the metric']);
  const state = defaultState(data);
  const numeric = data.axes.some((axis) => axis.numeric && axis.values.length > 1);
  list.push(['scaling', numeric ? pivotSpec(data, state) : null, 'no numeric axis with more than one value']);
  const memory = memoryMetric();
  list.push(['memory_usage', memory ? barSpec(data, memory, { title: `${memory}: median per task` }) : null, 'no memory metric']);
  const gpu = data.monitor ? monitorSpec(data, (series) => /^gpu/i.test(series)) : null;
  list.push(['gpu_utilization', gpu, 'no GPU monitor data in the results']);
  return list;
}

for (const [name, spec, why] of plots()) {
  if (!spec) {
    console.log(JSON.stringify({ plot: name, skipped: why }));
    continue;
  }
  const view = new vega.View(vega.parse(compile(spec).spec, null, { ast: true }), { renderer: 'none', expr: expressionInterpreter });
  const svg = await view.toSVG();
  view.finalize();
  const file = join(outDir, `${name}.svg`);
  writeFileSync(`${file}.tmp`, svg);
  renameSync(`${file}.tmp`, file);
  console.log(JSON.stringify({ plot: name, file }));
}
