// The package layer's drive and the files: archive in a node's QEMU argv (issue 19).
import { describe, expect, it } from 'vitest';
import { planNode } from '../../src/qemu/plan.js';
import { iface, node, topology } from '../helpers/model.js';

const inputs = { accel: 'tcg' as const, kernel: '/k/vmlinuz', initrd: '/k/initrd', defaultGuest: true, hostForwards: [] };
const values = (argv: readonly string[], flag: string) => argv.flatMap((a, i) => (argv[i - 1] === flag ? [a] : []));

describe('package layer and files in the plan', () => {
  const r1 = node('r1', { interfaces: [iface('eth1', { link: 'l1' })] });
  const topo = topology([r1]);

  it('microvm: a read-only raw drive with serial topo-layer (commas in the path escaped) and the files archive on fw_cfg', () => {
    const plan = planNode(topo, r1, { ...inputs, guestConfigFile: '/run/r1.config', layer: '/c/layers/a,b/layer.img', filesArchive: '/run/r1.files' });
    expect(values(plan.argv, '-drive')).toEqual(['if=none,id=layer,file=/c/layers/a,,b/layer.img,format=raw,readonly=on']);
    expect(values(plan.argv, '-device')).toContain('virtio-blk-device,drive=layer,serial=topo-layer');
    expect(values(plan.argv, '-fw_cfg')).toEqual(['name=opt/topo/config,file=/run/r1.config', 'name=opt/topo/files,file=/run/r1.files']);
  });

  it('without a layer or files: no drive, no files entry', () => {
    const plan = planNode(topo, r1, { ...inputs, guestConfigFile: '/run/r1.config' });
    expect(values(plan.argv, '-drive')).toEqual([]);
    expect(values(plan.argv, '-fw_cfg')).toEqual(['name=opt/topo/config,file=/run/r1.config']);
  });

  it('uefi (default guest from the ESP): the layer on virtio-blk-pci', () => {
    const u = node('u1', { kind: 'uefi', interfaces: [] });
    const plan = planNode(topology([u]), u, { ...inputs, firmware: { code: '/f/code', vars: '/f/vars' }, disk: '/c/esp.img', layer: '/c/layer.img' });
    expect(values(plan.argv, '-device')).toContain('virtio-blk-pci,drive=layer,serial=topo-layer');
  });
});
