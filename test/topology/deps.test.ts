// Dependency hygiene: package.json lists exactly what the shipped code imports.
import { readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

// src/web/page is bundled into dist at build time: its imports are devDependencies, checked apart below.
const PAGE = path.join('src', 'web', 'page');

function sources(dir: string, skip = PAGE): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (p === skip) return [];
    return e.isDirectory() ? sources(p, skip) : /\.(ts|js)$/.test(e.name) ? [p] : [];
  });
}

function importedPackages(files = [...sources('src'), ...sources('bin')]): Set<string> {
  const out = new Set<string>();
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    // Static imports and re-exports, dynamic import(), and createRequire(...)('pkg') for the native addon.
    const found = [
      ...text.matchAll(/^\s*(?:import|export)\b[^;]*?\bfrom\s+'([^']+)'/gm),
      ...text.matchAll(/^\s*import\s+'([^']+)'/gm),
      ...text.matchAll(/\bimport\(\s*'([^']+)'\s*\)/g),
      ...text.matchAll(/createRequire\([^)]*\)\(\s*'([^']+)'\s*\)/g),
    ];
    for (const m of found) {
      if (m[1]?.startsWith('.')) continue;
      const spec = m[1] as string;
      if (spec.startsWith('node:') || builtinModules.includes(spec)) continue;
      out.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : (spec.split('/')[0] as string));
    }
  }
  return out;
}

describe('dependencies', () => {
  const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };

  it('lists exactly the packages src/ and bin/ import', () => {
    expect(Object.keys(pkg.dependencies).sort()).toEqual([...importedPackages()].sort());
  });

  it('the web page bundles only devDependencies (nothing it imports is needed at run time)', () => {
    const page = [...importedPackages(sources(PAGE, ''))];
    expect(page.length).toBeGreaterThan(0);
    for (const name of page) expect(Object.keys(pkg.devDependencies)).toContain(name);
  });

  it('needs no Ajv format plugin: the schema uses no `format` keyword', () => {
    expect(readFileSync('schemas/topology.schema.json', 'utf8')).not.toMatch(/"format"\s*:/);
    expect(Object.keys(pkg.dependencies)).not.toContain('ajv-formats');
  });
});
