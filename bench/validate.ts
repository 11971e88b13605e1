// Validate + resolve + graph on a generated 1,000-node / 2,000-link topology. Run: npx tsx bench/validate.ts
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { loadTopology, toDot, toJson, toMermaid, wiringGraph } from '../src/topology/index.js';

const NODES = 1000;
const LINKS = 2000;

function generate(): string {
  const lines = ['name: bench', 'defaults:', '  memory: 128M', 'nodes:'];
  for (let i = 0; i < NODES; i++) lines.push(`  n${i}:`, `    ports: [{ guest: 22, host: auto }]`, ...(i > 0 ? [`    depends_on: [n${i - 1}]`] : []));
  lines.push('links:');
  // A ring plus chords: every node gets ~4 interfaces, half explicit and half bare.
  for (let l = 0; l < LINKS; l++) {
    const a = l % NODES;
    const b = l < NODES ? (a + 1) % NODES : (a + 7) % NODES;
    const ends = l < NODES ? `[n${a}:eth1, n${b}:eth2]` : `[n${a}, n${b}]`;
    const net = `10.${(l >> 8) & 255}.${l & 255}`;
    lines.push(`  - endpoints: ${ends}`, `    addresses: [${net}.1/30, ${net}.2/30]`);
    if (l % 10 === 0) lines.push('    impair: { delay: 10ms, loss: 1%, rate: 100mbit }');
  }
  return `${lines.join('\n')}\n`;
}

const dir = mkdtempSync(path.join(tmpdir(), 'topo-bench-'));
const file = path.join(dir, 'bench.yaml');
try {
  writeFileSync(file, generate());
  const times: number[] = [];
  for (let run = 0; run < 5; run++) {
    const t0 = performance.now();
    const res = await loadTopology(file);
    if (!res.ok) throw new Error(`bench topology invalid: ${res.diagnostics.slice(0, 3).map((d) => d.message).join('; ')}`);
    wiringGraph(res.topology);
    toDot(res.topology);
    toMermaid(res.topology);
    toJson(res.topology);
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)] ?? 0;
  console.log(`validate ${NODES} nodes / ${LINKS} links: ${Math.round(median)} ms (first run ${Math.round(Math.max(...times))} ms incl. schema compile)`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
