import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from './run-cli.js';

describe('topo graph', () => {
  it('draws DOT by default', async () => {
    const res = await runCli('graph', 'topologies/pair.yaml');
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/^graph "pair" \{/);
    expect(res.stdout).toContain('"a" -- "b"');
  });

  it('draws Mermaid', async () => {
    const res = await runCli('graph', 'topologies/lan.yaml', '--format', 'mermaid');
    expect(res.code).toBe(0);
    expect(res.stdout.split('\n')[0]).toBe('graph LR');
    expect(res.stdout).toContain('seg_l1');
  });

  it('prints JSON with nodes, segments and links', async () => {
    const res = await runCli('graph', 'topologies/lan.yaml', '--format', 'json');
    expect(res.code).toBe(0);
    const g = JSON.parse(res.stdout) as { nodes: unknown[]; segments: { id: string }[]; links: unknown[] };
    expect(Object.keys(g)).toEqual(['nodes', 'segments', 'links', 'bootLevels']);
    expect(g.nodes).toHaveLength(3);
    expect(g.segments.map((s) => s.id)).toEqual(['seg:l1']);
  });

  it('prints validate-style errors and exits 1 for an invalid file', async () => {
    const file = path.join('test/fixtures/invalid', 'unknown-key-node.yaml');
    const res = await runCli('graph', file, '--format', 'json');
    expect(res.code).toBe(1);
    expect(res.stdout).toBe('');
    expect(res.stderr).toMatch(new RegExp(`^${file.replace(/[.]/g, '\\.')}:\\d+:\\d+: error: unknown key \`memroy\``));
  });

  it('exits 2 for an unreadable file and rejects an unknown format', async () => {
    expect((await runCli('graph', 'missing.yaml')).code).toBe(2);
    expect((await runCli('graph', 'topologies/pair.yaml', '--format', 'svg')).code).toBe(2);
  });
});
