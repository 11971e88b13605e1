// A replayed bundle is someone else's input: it touches only its own files and the lab it boots (issue 17, 1-4, 6).
import { execa } from 'execa';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { stepLines } from '../../src/cli/test.js';
import { openBundle, writeBundle } from '../../src/scenario/bundle.js';
import { loadScenario } from '../../src/scenario/load.js';
import { fileKindOnDisk } from '../../src/topology/index.js';
import { runCli } from '../cli/run-cli.js';
import { fakeRun, retar, tmp } from './bundle-fixtures.js';

/** A bundle of the fake run with its topology replaced by `topology` and extra files written by `edit`. */
async function bundleWith(topology: string, edit: (dir: string) => void | Promise<void> = () => {}): Promise<string> {
  const file = await writeBundle(await fakeRun(), tmp());
  const edited = await retar(file, (dir) => {
    writeFileSync(path.join(dir, 'topology.yaml'), topology);
    return edit(dir);
  });
  return edited;
}

const lineOf = (text: string, needle: string) => text.split('\n').findIndex((l) => l.includes(needle)) + 1;

describe('replay confinement of every path the model names', () => {
  it('firmware vars and tpm state outside the bundle are refused at BUNDLE:topology.yaml:LINE:COL, never looked at', async () => {
    const topology = 'name: pair\nnodes:\n  a:\n    kind: uefi\n    firmware: { code: /usr/share/OVMF/OVMF_CODE_4M.fd, vars: /etc/shadow }\n    tpm: { state: /var/lib }\n  b: {}\nlinks: [{ endpoints: [a:eth1, b:eth1] }]\n';
    const bundle = await bundleWith(topology);
    const res = await runCli('test', bundle);
    expect(res.code).toBe(2);
    for (const [needle, shown] of [['vars: /etc/shadow', '/etc/shadow'], ['code: /usr', '/usr/share/OVMF/OVMF_CODE_4M.fd'], ['state: /var/lib', '/var/lib']] as const) {
      const col = (topology.split('\n')[lineOf(topology, needle) - 1] ?? '').indexOf(shown) + 1;
      expect(res.stderr).toContain(`${bundle}:topology.yaml:${lineOf(topology, needle)}:${col}`);
      expect(res.stderr).toContain(`${shown} is outside the bundle`);
    }
    expect(res.stderr).not.toMatch(/topo-replay-/);
    // Validation never asks the file system about them (no existence oracle either).
    const opened = await openBundle(bundle);
    const seen: string[] = [];
    try {
      await loadScenario(opened.scenarioFile, { confine: opened.dir, fileKind: (p) => (seen.push(p), fileKindOnDisk(p)) });
    } finally {
      await opened.close();
    }
    expect(seen.filter((p) => !p.startsWith(opened.dir))).toEqual([]);
  });

  it('a copy step from a guest to a host path outside the bundle is refused with its line', async () => {
    const file = await writeBundle(await fakeRun(), tmp());
    let scenario = '';
    const edited = await retar(file, (dir) => {
      scenario = readFileSync(path.join(dir, 'scenario.yaml'), 'utf8').replace(/copy: \{ ?from: \.\/cfg\.txt, to: a:\/tmp\/cfg ?\}/, 'copy: { from: a:/etc/hostname, to: /tmp/x }');
      expect(scenario).toContain('to: /tmp/x');
      writeFileSync(path.join(dir, 'scenario.yaml'), scenario);
    });
    const res = await runCli('test', edited);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain(`${edited}:scenario.yaml:${lineOf(scenario, 'to: /tmp/x')}:`);
    expect(res.stderr).toContain('/tmp/x is outside the bundle');
  });

  it('a copy destination inside the bundle is fine', async () => {
    const file = await writeBundle(await fakeRun(), tmp());
    const edited = await retar(file, (dir) => {
      const text = readFileSync(path.join(dir, 'scenario.yaml'), 'utf8').replace(/copy: \{ ?from: \.\/cfg\.txt, to: a:\/tmp\/cfg ?\}/, 'copy: { from: a:/etc/hostname, to: out/hostname }');
      expect(text).toContain('to: out/hostname');
      writeFileSync(path.join(dir, 'scenario.yaml'), text);
    });
    const opened = await openBundle(edited);
    try {
      const res = await loadScenario(opened.scenarioFile, { confine: opened.dir });
      expect(res.diagnostics).toEqual([]);
    } finally {
      await opened.close();
    }
  });

  it('a manifest entry outside the bundle is refused before it is looked at: an existing and a missing host file read the same', async () => {
    const answers: string[] = [];
    for (const entry of ['../../../../../../../../etc/hostname', '../../../../../../../../etc/no-such-file-here']) {
      const file = await writeBundle(await fakeRun(), tmp());
      const edited = await retar(file, (dir) => {
        const m = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
        writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify({ ...m, files: [...m.files, entry] }));
      });
      const res = await runCli('test', edited);
      expect(res.code).toBe(2);
      answers.push(res.stderr.replace(edited, 'B').replace(entry, 'E'));
    }
    expect(answers[0]).toContain('manifest.json lists "E", which is not a file of the bundle');
    expect(answers[1]).toBe(answers[0]);
  });
});

describe('collect: guest paths never leave the bundle', () => {
  it('".." and relative guest paths are refused at validation with line:col', async () => {
    const dir = tmp();
    writeFileSync(path.join(dir, 'pair.yaml'), 'name: pair\nnodes: { a: {}, b: {} }\n');
    const text = 'topology: pair.yaml\ncollect:\n  - a:/etc/hostname\n  - a:/../../../tmp/escape\n  - a:tmp/x\nsteps:\n  - exec: { node: a, cmd: "true" }\n';
    writeFileSync(path.join(dir, 's.yaml'), text);
    const res = await loadScenario(path.join(dir, 's.yaml'));
    expect(res.ok).toBe(false);
    expect(res.diagnostics.map((d) => `${d.line}:${d.column} ${d.code}`)).toEqual(['4:5 E_COLLECT_PATH', '5:5 E_COLLECT_PATH']);
    expect(res.diagnostics[0]?.message).toContain('".." is not allowed');
    expect(res.diagnostics[1]?.message).toContain('must be absolute; write NODE:/path, e.g. a:/tmp/x');
  });

  it('even unvalidated, a collected guest path lands inside the bundle', async () => {
    const target = path.join(tmp(), 'escape');
    const run = await fakeRun();
    run.collected.set(`a/../../../../../../../..${target}`, Buffer.from('guest bytes\n'));
    const file = await writeBundle(run, tmp());
    expect(existsSync(target)).toBe(false);
    const list = (await execa('tar', ['-tzf', file])).stdout.split('\n');
    
    expect(list.every((m) => !m.split('/').includes('..'))).toBe(true);
  });
});

describe('replay errors name the bundle and its member (issue 22, 6)', () => {
  it('a failed step is located at BUNDLE.tar.gz:scenario.yaml:LINE', async () => {
    const run = await fakeRun();
    const scenario = { ...run.scenario, file: '/tmp/topo-replay-XXXX/scenario.yaml', shownFile: 'repro.tar.gz:scenario.yaml' };
    const lines = stepLines(scenario, run.results[1]!);
    expect(lines[1]).toContain(`step 2 at repro.tar.gz:scenario.yaml:${scenario.steps[1]!.line}:`);
    expect(lines.join('\n')).not.toContain('topo-replay-');
  });
});

describe('qcow2 disks of a replayed bundle (real qemu-img images)', () => {
  const uefi = 'name: pair\nnodes:\n  a: { kind: uefi, disk: disk.qcow2 }\n  b: {}\nlinks: [{ endpoints: [a:eth1, b:eth1] }]\n';

  it('a backing file outside the bundle is refused', async () => {
    const outside = path.join(tmp(), 'outside.img');
    await execa('qemu-img', ['create', '-f', 'raw', outside, '1M']);
    const bundle = await bundleWith(uefi, async (dir) => {
      await execa('qemu-img', ['create', '-f', 'qcow2', '-b', outside, '-F', 'raw', path.join(dir, 'disk.qcow2')]);
    });
    const res = await runCli('test', bundle);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain(`node a: disk disk.qcow2 has the backing file ${outside}, outside the bundle`);
  });

  it('a relative backing file climbing out, a data file outside and a json: backing name are refused; a chain inside is fine', async () => {
    const cases: [string, (dir: string) => Promise<unknown>, RegExp | undefined][] = [
      ['climbs', async (dir) => {
        await execa('qemu-img', ['create', '-f', 'raw', path.join(dir, '..', 'up.img'), '1M']);
        await execa('qemu-img', ['create', '-f', 'qcow2', '-b', '../up.img', '-F', 'raw', path.join(dir, 'disk.qcow2')]);
      }, /has the backing file \/.*\/up\.img, outside the bundle/],
      ['data file', (dir) => execa('qemu-img', ['create', '-f', 'qcow2', '-o', `data_file=${path.join(tmp(), 'data.raw')}`, path.join(dir, 'disk.qcow2'), '1M']), /keeps its data in .*data\.raw, outside the bundle/],
      ['json', async (dir) => {
        await execa('qemu-img', ['create', '-f', 'qcow2', path.join(dir, 'disk.qcow2'), '1M']);
        await execa('qemu-img', ['rebase', '-u', '-b', 'json:{"file":{"driver":"file","filename":"/etc/hostname"}}', '-F', 'raw', path.join(dir, 'disk.qcow2')]);
      }, /is not a file of the bundle/],
      ['inside', async (dir) => {
        await execa('qemu-img', ['create', '-f', 'raw', path.join(dir, 'base.img'), '1M']);
        await execa('qemu-img', ['create', '-f', 'qcow2', '-b', 'base.img', '-F', 'raw', path.join(dir, 'mid.qcow2')]);
        await execa('qemu-img', ['create', '-f', 'qcow2', '-b', 'mid.qcow2', '-F', 'qcow2', path.join(dir, 'disk.qcow2')]);
      }, undefined],
    ];
    for (const [name, make, refused] of cases) {
      const bundle = await bundleWith(uefi, async (dir) => void (await make(dir)));
      const opened = await openBundle(bundle);
      try {
        const res = await loadScenario(opened.scenarioFile, { confine: opened.dir });
        const messages = res.diagnostics.map((d) => d.message).join('\n');
        if (refused) expect(messages, name).toMatch(refused);
        else expect(res.diagnostics, name).toEqual([]);
      } finally {
        await opened.close();
      }
    }
  });
});
