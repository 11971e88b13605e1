// Build step: bundle the `topo web` page (src/web/page) with its libraries into dist/web/page, so it works offline.
import { build } from 'esbuild';

const page = new URL('../src/web/page/', import.meta.url).pathname;
const out = new URL('../dist/web/page/', import.meta.url).pathname;
await build({
  entryPoints: { app: `${page}main.ts`, 'app-style': `${page}style.css` },
  outdir: out,
  bundle: true,
  minify: true,
  format: 'iife',
  target: ['es2022'],
  legalComments: 'none',
  logLevel: 'warning',
  // The CSS entry comes out as app-style.css; the server reads app.css.
  entryNames: '[name]',
});
const { rename } = await import('node:fs/promises');
await rename(`${out}app-style.css`, `${out}app.css`);
