// Folder order of src/, lowest first: a module may import its own folder and folders listed before it, never after.
// `npm run check:deps` also refuses any import cycle between files.
const LAYERS = [
  ['errors.ts'],
  ['host'],
  ['topology'],
  ['guest'],
  ['qemu'],
  ['api'],
  ['net'],
  ['machine'],
  ['runtime'],
  ['control'],
  ['ui'],
  ['scenario'],
  ['k8s', 'web'],
  ['cli'],
  ['index.ts'],
];

const path = (name) => `^src/${name.replace('.', '\\.')}${name.endsWith('.ts') ? '$' : '/'}`;
const above = (i) => LAYERS.slice(i + 1).flat().map(path);

module.exports = {
  forbidden: [
    { name: 'no-cycle', severity: 'error', comment: 'an import cycle between files', from: {}, to: { circular: true } },
    ...LAYERS.flatMap((names, i) =>
      names.map((name) => ({
        name: `layer-${name.replace('.ts', '')}`,
        severity: 'error',
        comment: `src/${name} may import only what comes before it in .dependency-cruiser.cjs's LAYERS`,
        from: { path: path(name) },
        to: { path: above(i).length ? above(i) : '^$' },
      })),
    ),
    // Same-layer folders stay apart too (k8s and web know nothing of each other).
    { name: 'k8s-web-apart', severity: 'error', from: { path: '^src/(k8s|web)/' }, to: { path: '^src/(k8s|web)/', pathNot: '^src/$1/' } },
    // One client: the CLI and the web view reach a lab through RemoteLab (src/control/remote-lab.ts), never the raw connection.
    { name: 'one-client', severity: 'error', from: { path: '^src/(cli|web)/' }, to: { path: '^src/control/client\\.ts$' } },
    { name: 'not-to-unresolvable', severity: 'error', from: {}, to: { couldNotResolve: true } },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    enhancedResolveOptions: { extensions: ['.ts', '.js', '.mjs'] },
  },
};
