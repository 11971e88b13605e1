// scripts/setup.sh on a machine missing packages: run against stub dpkg-query/apt-get/npm on PATH.
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';

const root = mkdtempSync(path.join(tmpdir(), 'topo-setup-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function stub(dir: string, name: string, body: string): void {
  const file = path.join(dir, name);
  writeFileSync(file, `#!/bin/sh\n${body}\n`);
  chmodSync(file, 0o755);
}

describe('scripts/setup.sh', () => {
  it('installs the compilers the native unix-socketpair build needs when they are missing', async () => {
    const repo = path.join(root, 'repo');
    const bin = path.join(root, 'bin');
    const log = path.join(root, 'calls.log');
    mkdirSync(path.join(repo, 'scripts'), { recursive: true });
    mkdirSync(path.join(repo, 'node_modules'), { recursive: true });
    mkdirSync(bin);
    copyFileSync('scripts/setup.sh', path.join(repo, 'scripts', 'setup.sh'));
    writeFileSync(path.join(repo, 'package-lock.json'), '{}');
    writeFileSync(path.join(repo, 'node_modules', '.package-lock.json'), '{}');
    // A machine with everything but python3, make and g++.
    stub(bin, 'dpkg-query', `for p; do last="$p"; done\ncase "$last" in python3|make|g++) exit 1;; esac\nprintf 'install ok installed'`);
    stub(bin, 'apt-cache', `echo '  Candidate: 6.1.0'`);
    stub(bin, 'apt-get', `echo "apt-get $*" >> '${log}'`);
    stub(bin, 'npm', `echo "npm $*" >> '${log}'`);
    stub(bin, 'id', 'echo 0');
    const res = await execa('bash', [path.join(repo, 'scripts', 'setup.sh')], { env: { PATH: `${bin}:/usr/bin:/bin` }, extendEnv: false, reject: false });
    expect(res.exitCode, res.stderr).toBe(0);
    const calls = readFileSync(log, 'utf8').trim().split('\n');
    expect(calls).toContain('apt-get install -y -qq python3 make g++');
  });
});
