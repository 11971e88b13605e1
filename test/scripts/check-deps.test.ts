// npm run check:deps: passes on the repository, fails when a file cycle or an import against the folder order appears.
import { cpSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

// A copy of src/ with the repository's rule file, plus whatever a case adds.
function copyOfSrc(extra: Record<string, string>): string {
  const dir = tempDir('topo-deps-');
  cpSync(path.join(repoRoot, 'src'), path.join(dir, 'src'), { recursive: true });
  for (const f of ['.dependency-cruiser.cjs', 'tsconfig.json', 'package.json']) cpSync(path.join(repoRoot, f), path.join(dir, f));
  symlinkSync(path.join(repoRoot, 'node_modules'), path.join(dir, 'node_modules'));
  for (const [file, text] of Object.entries(extra)) {
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    writeFileSync(path.join(dir, file), text);
  }
  return dir;
}

const check = (cwd: string) => execa('npm', ['run', '--silent', 'check:deps'], { cwd, reject: false, all: true });

describe('npm run check:deps', () => {
  it('passes on the repository as it is', async () => {
    const r = await check(repoRoot);
    expect(r.all).toContain('no dependency violations found');
    expect(r.exitCode).toBe(0);
  });

  // One copy of src/ carries all three mistakes (a dependency-cruiser run takes seconds); each must be named.
  it('fails on a file cycle, on a folder importing one after it, and on a CLI command opening the raw control connection', async () => {
    const r = await check(copyOfSrc({
      'src/host/cycle-a.ts': "import { b } from './cycle-b.js';\nexport const a = () => b;\n",
      'src/host/cycle-b.ts': "import { a } from './cycle-a.js';\nexport const b = () => a;\n",
      'src/topology/reach-up.ts': "export type { Lab } from '../runtime/lab.js';\n",
      'src/cli/raw.ts': "export { ControlConnection } from '../control/client.js';\n",
    }));
    expect(r.all).toMatch(/no-cycle: src\/host\/cycle-(a|b)\.ts/);
    expect(r.all).toContain('layer-topology: src/topology/reach-up.ts → src/runtime/lab.ts');
    expect(r.all).toContain('one-client: src/cli/raw.ts → src/control/client.ts');
    expect(r.all).toMatch(/x 3 dependency violations/);
    expect(r.exitCode).not.toBe(0);
  });
});
