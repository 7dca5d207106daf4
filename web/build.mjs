// Bundles the report's front end for embedding in the benchmatrix binary.
//   node build.mjs OUTDIR
// writes OUTDIR/report.js (the page's one script, an IIFE with Vega, Vega-Lite, vega-embed and
// vega-interpreter inside), OUTDIR/report.csp (the script's hash as a CSP source, so the page can
// forbid every other script) and OUTDIR/render.mjs (the same charts rendered to SVG under Node.js,
// for `benchmatrix report --export-plots`).
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = process.argv[2];
if (!out) {
  console.error('usage: node build.mjs OUTDIR');
  process.exit(2);
}
mkdirSync(out, { recursive: true });

const common = {
  bundle: true,
  minify: true,
  legalComments: 'none',
  logLevel: 'warning',
  // Vega reads these at run time; fixed values let the bundle drop Node-only branches.
  define: { 'process.env.NODE_ENV': '"production"' },
};

await build({
  ...common,
  entryPoints: [join(here, 'src', 'page.js')],
  outfile: join(out, 'report.js'),
  format: 'iife',
  platform: 'browser',
  target: ['es2020'],
  charset: 'utf8',
});
await build({
  ...common,
  entryPoints: [join(here, 'src', 'render.js')],
  outfile: join(out, 'render.mjs'),
  format: 'esm',
  platform: 'node',
  target: ['node18'],
  // Optional in Vega (PNG output); SVG needs no canvas.
  external: ['canvas'],
  banner: { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" },
});

const script = readFileSync(join(out, 'report.js'), 'utf8');
// The script is placed between <script> and </script> as it is: it must not end that element.
if (/<\/script/i.test(script) || /<!--/.test(script)) {
  console.error('build.mjs: the bundle contains </script or <!--; it cannot be inlined');
  process.exit(1);
}
const hash = createHash('sha256').update(script, 'utf8').digest('base64');
writeFileSync(join(out, 'report.csp'), `'sha256-${hash}'`);
