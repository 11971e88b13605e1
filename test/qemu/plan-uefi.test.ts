import { describe, expect, it } from 'vitest';
import { planNode } from '../../src/qemu/plan.js';
import { UEFI_NIC_FIRST_SLOT } from '../../src/qemu/plan-uefi.js';
import { iface, node, topology } from '../helpers/model.js';

const inputs = {
  accel: 'tcg' as const,
  defaultGuest: false,
  hostForwards: [{ protocol: 'tcp' as const, bind: '127.0.0.1', host: 2222, guest: 22 }],
  firmware: { code: '/fw/CODE.fd', vars: '/run/fw.vars.fd' },
  diskFormat: 'raw' as const,
  guestConfigFile: '/run/fw.config',
};

function optionValues(argv: readonly string[], flag: string): string[] {
  return argv.flatMap((a, i) => (argv[i - 1] === flag ? [a] : []));
}

describe('planNode for kind: uefi', () => {
  const fw = node('fw', {
    kind: 'uefi',
    memoryMiB: 512,
    disk: '/img/disk.img',
    tpm: { interface: 'crb' },
    hostNetwork: true,
    interfaces: [iface('eth0', { kind: 'host' }), iface('eth1', { link: 'l1' })],
  });
  const topo = topology([fw]);

  it('boots OVMF on q35 from the disk, with a per-node variable store', () => {
    const plan = planNode(topo, fw, inputs);
    expect(plan.binary).toBe('qemu-system-x86_64');
    expect(optionValues(plan.argv, '-M')).toEqual(['q35']);
    expect(optionValues(plan.argv, '-cpu')).toEqual(['max']);
    expect(optionValues(plan.argv, '-m')).toEqual(['512M']);
    expect(plan.argv).not.toContain('-kernel');
    expect(optionValues(plan.argv, '-drive')).toEqual([
      'if=pflash,format=raw,unit=0,readonly=on,file=/fw/CODE.fd',
      'if=pflash,format=raw,unit=1,file=/run/fw.vars.fd',
      'if=none,id=disk0,file=/img/disk.img,format=raw,snapshot=on,cache=unsafe',
    ]);
    expect(plan.argv).toContain('virtio-blk-pci,drive=disk0,bootindex=0');
    expect(optionValues(plan.argv, '-cpu')).toEqual(['max']);
    expect(optionValues(planNode(topo, fw, { ...inputs, accel: 'kvm' }).argv, '-cpu')).toEqual(['host']);
  });

  it('numbers fds from 3: console, QMP, agent, TPM, then links', () => {
    const plan = planNode(topo, fw, inputs);
    expect(plan.fdSlots).toEqual([{ kind: 'console' }, { kind: 'qmp' }, { kind: 'agent' }, { kind: 'tpm' }, { kind: 'link', iface: 'eth1', link: 'l1' }]);
    expect(optionValues(plan.argv, '-chardev')).toEqual(['socket,id=con,fd=3', 'socket,id=qmp,fd=4', 'socket,id=agent,fd=5', 'socket,id=chrtpm,fd=6']);
    expect(optionValues(plan.argv, '-tpmdev')).toEqual(['emulator,id=tpm0,chardev=chrtpm']);
    expect(plan.argv).toContain('tpm-crb,tpmdev=tpm0');
    expect(optionValues(plan.argv, '-netdev')).toEqual(['user,id=net0,hostfwd=tcp:127.0.0.1:2222-:22', 'socket,id=net1,fd=7']);
  });

  it('has the agent port and the guest configuration on PCI / fw_cfg, and PCI NICs without option ROMs', () => {
    const plan = planNode(topo, fw, inputs);
    expect(plan.argv).toContain('virtio-serial-pci');
    expect(plan.argv).toContain('virtserialport,chardev=agent,name=org.topo.agent');
    expect(plan.argv).toContain('virtio-rng-pci');
    expect(optionValues(plan.argv, '-fw_cfg')).toEqual(['name=opt/topo/config,file=/run/fw.config']);
    const slot = UEFI_NIC_FIRST_SLOT.toString(16);
    expect(optionValues(plan.argv, '-device').filter((d) => d.startsWith('virtio-net'))).toEqual([
      `virtio-net-pci,netdev=net0,mac=02:00:00:00:00:00,addr=${slot}.0,multifunction=on,romfile=`,
      `virtio-net-pci,netdev=net1,mac=02:00:00:00:00:01,addr=${slot}.1,romfile=`,
    ]);
  });

  it('without tpm there is no TPM slot, and links start at fd 6', () => {
    const { tpm: _tpm, ...plain } = fw;
    const plan = planNode(topology([plain]), plain, inputs);
    expect(plan.fdSlots.map((s) => s.kind)).toEqual(['console', 'qmp', 'agent', 'link']);
    expect(plan.argv).not.toContain('-tpmdev');
    expect(optionValues(plan.argv, '-netdev')[1]).toBe('socket,id=net1,fd=6');
  });

  it('persist drops snapshot=on; qcow2 is passed through', () => {
    const kept = { ...fw, persist: true };
    const plan = planNode(topology([kept]), kept, { ...inputs, diskFormat: 'qcow2' });
    expect(optionValues(plan.argv, '-drive')[2]).toBe('if=none,id=disk0,file=/img/disk.img,format=qcow2');
  });

  it('tpm interface tis uses the tpm-tis device; allow_reboot drops -no-reboot', () => {
    const tis = { ...fw, tpm: { interface: 'tis' as const }, allowReboot: true };
    const plan = planNode(topology([tis]), tis, inputs);
    expect(plan.argv).toContain('tpm-tis,tpmdev=tpm0');
    expect(plan.argv).not.toContain('tpm-crb,tpmdev=tpm0');
    expect(plan.argv).not.toContain('-no-reboot');
    expect(planNode(topo, fw, inputs).argv).toContain('-no-reboot');
  });

  it('without a disk of its own boots the ESP the runtime passes, always as a snapshot', () => {
    const { disk: _disk, ...bare } = fw;
    const plan = planNode(topology([bare]), bare, { ...inputs, disk: '/cache/esp.img' });
    expect(optionValues(plan.argv, '-drive')[2]).toBe('if=none,id=disk0,file=/cache/esp.img,format=raw,snapshot=on,cache=unsafe');
  });

  it('escapes commas in the disk, firmware and fw_cfg paths', () => {
    const odd = { ...fw, disk: '/a,b/disk.img,snapshot=off', fwCfg: [{ name: 'opt/x', file: '/p,q' }] };
    const plan = planNode(topology([odd]), odd, { ...inputs, firmware: { code: '/c,d/CODE.fd', vars: '/r,s/vars.fd' } });
    expect(optionValues(plan.argv, '-drive')).toEqual([
      'if=pflash,format=raw,unit=0,readonly=on,file=/c,,d/CODE.fd',
      'if=pflash,format=raw,unit=1,file=/r,,s/vars.fd',
      'if=none,id=disk0,file=/a,,b/disk.img,,snapshot=off,format=raw,snapshot=on,cache=unsafe',
    ]);
    expect(optionValues(plan.argv, '-fw_cfg')[1]).toBe('name=opt/x,file=/p,,q');
  });

  it('fits 64 NICs in 8 multifunction slots', () => {
    const many = node('big', { kind: 'uefi', disk: '/d', interfaces: Array.from({ length: 64 }, (_, i) => iface(`eth${i}`, { link: `l${i}` })) });
    const nics = optionValues(planNode(topology([many]), many, inputs).argv, '-device').filter((d) => d.startsWith('virtio-net-pci'));
    expect(nics).toHaveLength(64);
    expect(nics[63]).toMatch(/,addr=17\.7,romfile=$/);
  });

  it('needs the firmware from the runtime', () => {
    expect(() => planNode(topo, fw, { ...inputs, firmware: undefined })).toThrow(/missing firmware/);
  });
});
