import { describe, expect, it } from 'vitest';
import { moduleLoadOrder, moduleName, parseModulesBuiltin, parseModulesDep, readModinfo } from '../../src/guest/modules.js';

// Trimmed from a real Debian 6.1 cloud kernel (modules.dep lists transitive dependencies).
const SAMPLE_DEP = `kernel/drivers/virtio/virtio.ko:
kernel/drivers/virtio/virtio_ring.ko:
kernel/drivers/virtio/virtio_mmio.ko: kernel/drivers/virtio/virtio_ring.ko kernel/drivers/virtio/virtio.ko
kernel/drivers/virtio/virtio_pci_legacy_dev.ko:
kernel/drivers/virtio/virtio_pci_modern_dev.ko:
kernel/drivers/virtio/virtio_pci.ko: kernel/drivers/virtio/virtio_pci_modern_dev.ko kernel/drivers/virtio/virtio_pci_legacy_dev.ko kernel/drivers/virtio/virtio_ring.ko kernel/drivers/virtio/virtio.ko
kernel/net/core/failover.ko:
kernel/drivers/net/net_failover.ko: kernel/net/core/failover.ko
kernel/drivers/net/virtio_net.ko: kernel/drivers/net/net_failover.ko kernel/net/core/failover.ko kernel/drivers/virtio/virtio_ring.ko kernel/drivers/virtio/virtio.ko
kernel/drivers/char/virtio_console.ko: kernel/drivers/virtio/virtio_ring.ko kernel/drivers/virtio/virtio.ko
kernel/drivers/char/hw_random/virtio-rng.ko.xz: kernel/drivers/virtio/virtio_ring.ko kernel/drivers/virtio/virtio.ko
kernel/drivers/firmware/qemu_fw_cfg.ko:
`;

describe('module load order', () => {
  const index = parseModulesDep(SAMPLE_DEP);
  const order = moduleLoadOrder(index, ['virtio_mmio', 'virtio_pci', 'virtio_net', 'virtio_console', 'virtio-rng', 'qemu_fw_cfg']);
  const names = order.map(moduleName);

  it('puts every module after its dependencies, each once', () => {
    expect(new Set(names).size).toBe(names.length);
    for (const [name, info] of index) {
      if (!names.includes(name)) continue;
      for (const dep of info.deps) expect(names.indexOf(dep)).toBeLessThan(names.indexOf(name));
    }
    expect(names).toEqual([
      'virtio_ring', 'virtio', 'virtio_mmio', 'virtio_pci_modern_dev', 'virtio_pci_legacy_dev', 'virtio_pci',
      'failover', 'net_failover', 'virtio_net', 'virtio_console', 'virtio_rng', 'qemu_fw_cfg',
    ]);
    expect(order).toContain('kernel/drivers/char/hw_random/virtio-rng.ko.xz');
  });

  it('skips built-in modules and reports unknown ones and cycles', () => {
    const builtin = parseModulesBuiltin('kernel/drivers/virtio/virtio.ko\nkernel/drivers/virtio/virtio_ring.ko\n');
    expect(moduleLoadOrder(index, ['virtio_console'], builtin).map(moduleName)).toEqual(['virtio_console']);
    expect(() => moduleLoadOrder(index, ['nope'])).toThrow(/nope not found/);
    const cyclic = parseModulesDep('a.ko: b.ko\nb.ko: a.ko\n');
    expect(() => moduleLoadOrder(cyclic, ['a'])).toThrow(/cycle/);
  });

  it('reads depends= from an ELF .modinfo section', () => {
    expect(readModinfo(fakeModule('name=virtio_net\0depends=virtio,net_failover\0')).get('depends')).toBe('virtio,net_failover');
    expect(() => readModinfo(Buffer.alloc(64))).toThrow(/ELF64/);
  });
});

/** A minimal ELF64 with a section header table: [null, .shstrtab, .modinfo]. */
function fakeModule(modinfo: string): Buffer {
  const shstr = Buffer.from('\0.shstrtab\0.modinfo\0');
  const info = Buffer.from(modinfo);
  const dataOff = 64;
  const shoff = dataOff + shstr.length + info.length;
  const elf = Buffer.alloc(shoff + 3 * 64);
  elf.writeUInt32BE(0x7f454c46, 0);
  elf[4] = 2;
  elf.writeBigUInt64LE(BigInt(shoff), 0x28);
  elf.writeUInt16LE(64, 0x3a);
  elf.writeUInt16LE(3, 0x3c);
  elf.writeUInt16LE(1, 0x3e);
  shstr.copy(elf, dataOff);
  info.copy(elf, dataOff + shstr.length);
  const sh = (i: number, name: number, off: number, size: number) => {
    elf.writeUInt32LE(name, shoff + i * 64);
    elf.writeBigUInt64LE(BigInt(off), shoff + i * 64 + 0x18);
    elf.writeBigUInt64LE(BigInt(size), shoff + i * 64 + 0x20);
  };
  sh(1, 1, dataOff, shstr.length);
  sh(2, 11, dataOff + shstr.length, info.length);
  return elf;
}

describe('stripModuleSignature', () => {
  it('removes an appended PKCS#7 signature and leaves unsigned modules alone', async () => {
    const { stripModuleSignature } = await import('../../src/guest/modules.js');
    const body = Buffer.from('ELF module body');
    const sig = Buffer.alloc(10, 0xaa);
    const info = Buffer.from([0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, sig.length]);
    const signed = Buffer.concat([body, sig, info, Buffer.from('~Module signature appended~\n')]);
    expect(stripModuleSignature(signed).equals(body)).toBe(true);
    expect(stripModuleSignature(body).equals(body)).toBe(true);
  });
});
