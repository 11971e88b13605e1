import { describe, expect, it } from 'vitest';
import { escapeValue, qemuOpts } from '../../src/qemu/escape.js';
import { kernelCmdline, planNode } from '../../src/qemu/plan.js';
import { iface, node, topology } from '../helpers/model.js';

const inputs = { accel: 'tcg' as const, kernel: '/k/vmlinuz', initrd: '/k/initrd', defaultGuest: true, tscKhz: 2596122, hostForwards: [] };

function optionValues(argv: readonly string[], flag: string): string[] {
  return argv.flatMap((a, i) => (argv[i - 1] === flag ? [a] : []));
}

describe('escape', () => {
  it('doubles commas so a value cannot inject options', () => {
    expect(escapeValue('a,b,,c')).toBe('a,,b,,,,c');
    expect(qemuOpts('socket', { id: 'x', path: '/tmp/a,file=/etc/passwd' })).toBe('socket,id=x,path=/tmp/a,,file=/etc/passwd');
  });
  it('drops undefined and false, maps true to on', () => {
    expect(qemuOpts(undefined, { a: undefined, b: false, c: true, d: 0 })).toBe('c=on,d=0');
  });
});

describe('planNode', () => {
  const r1 = node('r1', {
    hostNetwork: true,
    interfaces: [
      iface('eth0', { kind: 'host' }),
      iface('eth1', { link: 'l1' }),
      iface('eth2', { link: 'l2' }),
    ],
  });
  const topo = topology([r1]);

  it('builds a microvm with console, QMP, agent, rng and the guest config', () => {
    const plan = planNode(topo, r1, { ...inputs, guestConfigFile: '/run/r1.config' });
    expect(plan.binary).toBe('qemu-system-x86_64');
    expect(optionValues(plan.argv, '-M')).toEqual(['microvm,x-option-roms=off,isa-serial=on']);
    expect(optionValues(plan.argv, '-accel')).toEqual(['tcg']);
    // The default guest under TCG takes the cheaper CPU model, with ARAT so an idle guest stops its tick;
    // a custom kernel keeps every feature.
    expect(optionValues(plan.argv, '-cpu')).toEqual(['qemu64,+arat']);
    expect(optionValues(planNode(topo, r1, { ...inputs, defaultGuest: false }).argv, '-cpu')).toEqual(['max']);
    expect(optionValues(planNode(topo, r1, { ...inputs, accel: 'kvm' }).argv, '-cpu')).toEqual(['host']);
    expect(optionValues(plan.argv, '-m')).toEqual(['192M']);
    expect(optionValues(plan.argv, '-kernel')).toEqual(['/k/vmlinuz']);
    expect(optionValues(plan.argv, '-fw_cfg')).toEqual(['name=opt/topo/config,file=/run/r1.config']);
    expect(plan.argv).toContain('virtserialport,chardev=agent,name=org.topo.agent');
    expect(plan.fdSlots.map((s) => s.kind)).toEqual(['console', 'qmp', 'agent', 'link', 'link']);
  });

  it('numbers inherited fds from 3 in slot order, one netdev per interface', () => {
    const plan = planNode(topo, r1, inputs);
    const chardevs = optionValues(plan.argv, '-chardev');
    expect(chardevs).toEqual(['socket,id=con,fd=3', 'socket,id=qmp,fd=4', 'socket,id=agent,fd=5']);
    expect(optionValues(plan.argv, '-netdev')).toEqual(['user,id=net0', 'socket,id=net1,fd=6', 'socket,id=net2,fd=7']);
    expect(optionValues(plan.argv, '-device').filter((d) => d.startsWith('virtio-net'))).toEqual([
      'virtio-net-device,netdev=net0,mac=02:00:00:00:00:00',
      'virtio-net-device,netdev=net1,mac=02:00:00:00:00:01',
      'virtio-net-device,netdev=net2,mac=02:00:00:00:00:02',
    ]);
    expect(plan.fdSlots[3]).toEqual({ kind: 'link', iface: 'eth1', link: 'l1' });
  });

  it('adds host forwards to the user netdev', () => {
    const plan = planNode(topo, r1, {
      ...inputs,
      hostForwards: [
        { protocol: 'tcp', bind: '127.0.0.1', host: 2222, guest: 22 },
        { protocol: 'udp', bind: '127.0.0.1', host: 5353, guest: 53 },
      ],
    });
    expect(optionValues(plan.argv, '-netdev')[0]).toBe('user,id=net0,hostfwd=tcp:127.0.0.1:2222-:22,hostfwd=udp:127.0.0.1:5353-:53');
  });

  it('escapes commas in paths and leaves out the agent for custom kernels', () => {
    const plan = planNode(topo, r1, { ...inputs, kernel: '/a,b/vmlinuz', defaultGuest: false });
    expect(optionValues(plan.argv, '-kernel')).toEqual(['/a,b/vmlinuz']);
    expect(plan.fdSlots.map((s) => s.kind)).toEqual(['console', 'qmp', 'link', 'link']);
    const fwcfg = planNode(topology([node('x', { fwCfg: [{ name: 'opt/x', file: '/p,q' }] })]), node('x', { fwCfg: [{ name: 'opt/x', file: '/p,q' }] }), inputs);
    expect(optionValues(fwcfg.argv, '-fw_cfg')).toEqual(['name=opt/x,file=/p,,q']);
  });

  it('uses host CPU and no TSC hint under KVM', () => {
    const plan = planNode(topo, r1, { ...inputs, accel: 'kvm' });
    expect(optionValues(plan.argv, '-cpu')).toEqual(['host']);
    expect(optionValues(plan.argv, '-append')[0]).not.toContain('tsc_early_khz');
  });

  it('passes the TSC rate and the node cmdline on the kernel command line', () => {
    const line = kernelCmdline(node('r', { cmdline: 'foo=1' }), inputs);
    expect(line.split(' ')).toEqual(expect.arrayContaining(['console=ttyS0', 'tsc_early_khz=2596122', 'quiet', 'foo=1']));
  });

  it('moves NICs to microvm PCIe past its 24 virtio-mmio transports (64 interfaces fit)', () => {
    const many = node('big', { interfaces: Array.from({ length: 64 }, (_, i) => iface(`eth${i}`, { link: `l${i}` })) });
    const plan = planNode(topology([many]), many, inputs);
    expect(optionValues(plan.argv, '-M')).toEqual(['microvm,x-option-roms=off,isa-serial=on,pcie=on']);
    const nics = optionValues(plan.argv, '-device').filter((d) => d.startsWith('virtio-net-pci'));
    expect(nics).toHaveLength(64);
    expect(nics[0]).toBe('virtio-net-pci,netdev=net0,mac=02:00:00:00:00:00,addr=1.0,multifunction=on');
    expect(nics[63]).toMatch(/,addr=8\.7$/);
    const few = node('small', { interfaces: Array.from({ length: 22 }, (_, i) => iface(`eth${i}`, { link: `l${i}` })) });
    expect(planNode(topology([few]), few, inputs).argv.some((a) => a.startsWith('virtio-net-pci'))).toBe(false);
  });

  it('every argument is its own argv element (no shell string)', () => {
    const plan = planNode(topo, r1, { ...inputs, kernel: '/path with space/vmlinuz' });
    expect(plan.argv).toContain('/path with space/vmlinuz');
  });

  it('keeps -no-reboot unless allow_reboot', () => {
    expect(planNode(topo, r1, inputs).argv).toContain('-no-reboot');
    const rebooting = { ...r1, allowReboot: true };
    expect(planNode(topology([rebooting]), rebooting, inputs).argv).not.toContain('-no-reboot');
  });

  it('console: virtio puts a virtconsole first on the virtio-serial bus and the kernel on hvc0', () => {
    const own = node('k', { console: 'virtio', channels: ['data'], interfaces: [] });
    const plan = planNode(topology([own]), own, { ...inputs, defaultGuest: false, tscKhz: undefined });
    expect(plan.argv).not.toContain('-serial');
    expect(optionValues(plan.argv, '-device').filter((d) => d.startsWith('virtio-serial'))).toEqual(['virtio-serial-device']);
    const dev = optionValues(plan.argv, '-device');
    expect(dev.indexOf('virtconsole,chardev=con')).toBeLessThan(dev.indexOf('virtserialport,chardev=chan0,name=data'));
    expect(optionValues(plan.argv, '-chardev')[0]).toBe('socket,id=con,fd=3');
    expect(plan.fdSlots[0]).toEqual({ kind: 'console' });
    expect(optionValues(plan.argv, '-append')).toEqual(['console=hvc0 panic=-1 reboot=t']);
    const serial = { ...own, console: 'serial' as const };
    const plain = planNode(topology([serial]), serial, { ...inputs, defaultGuest: false, tscKhz: undefined });
    expect(optionValues(plain.argv, '-serial')).toEqual(['chardev:con']);
    expect(optionValues(plain.argv, '-append')).toEqual(['console=ttyS0 panic=-1 reboot=t']);
  });

  it('fw_cfg entries: files and strings, commas escaped, names outside opt/ passed as written', () => {
    const withCfg = { ...r1, fwCfg: [{ name: 'opt/org.example/a', file: '/x,y/a.bin' }, { name: 'com.nexantic.smalltown/enrolment.pb', string: 'k=v,w' }] };
    const plan = planNode(topology([withCfg]), withCfg, inputs);
    expect(optionValues(plan.argv, '-fw_cfg')).toEqual(['name=opt/org.example/a,file=/x,,y/a.bin', 'name=com.nexantic.smalltown/enrolment.pb,string=k=v,,w']);
  });

  it('host_network subnet sets the user netdev net=, and forwards keep their bind address', () => {
    const sub = { ...r1, hostSubnet: '10.42.0.0/24' };
    const plan = planNode(topology([sub]), sub, { ...inputs, hostForwards: [{ protocol: 'tcp', host: 2222, guest: 22, bind: '0.0.0.0' }] });
    expect(optionValues(plan.argv, '-netdev')[0]).toBe('user,id=net0,net=10.42.0.0/24,hostfwd=tcp:0.0.0.0:2222-:22');
  });
});
