// The seccomp filter virtiofsd runs under (handed to bwrap --seccomp): it refuses the system calls that would put a
// setuid/setgid bit or a device node on the host. The file owner may always chmod u+s its own file (no capability
// checks that), so dropping capabilities alone cannot stop a guest's `chmod u+s`; this filter does. Pure, no I/O.

/** Classic BPF opcodes (linux/filter.h). */
const LD_W_ABS = 0x20;
const JEQ_K = 0x15;
const JGE_K = 0x35;
const JSET_K = 0x45;
const AND_K = 0x54;
const RET_K = 0x06;

const SECCOMP_RET_ALLOW = 0x7fff0000;
const SECCOMP_RET_ERRNO = 0x00050000;
const EPERM = 1;
const ENOSYS = 38;
const AUDIT_ARCH_X86_64 = 0xc000003e;
/** x32 system calls have this bit set; refused outright (virtiofsd never makes them). */
const X32_BIT = 0x40000000;

const S_ISUID_ISGID = 0o6000;
const S_IFMT = 0o170000;
const S_IFCHR = 0o020000;
const S_IFBLK = 0o060000;
/** O_CREAT | __O_TMPFILE: the open flags under which the mode argument is used. */
const O_CREATING = 0o100 | 0o20000000;

/** x86_64 system call numbers. */
const NR = { open: 2, creat: 85, mkdir: 83, chmod: 90, fchmod: 91, mknod: 133, openat: 257, mkdirat: 258, mknodat: 259, fchmodat: 268, openat2: 437, fchmodat2: 452 } as const;

/** Offset in struct seccomp_data of the low 32 bits of argument `i` (little-endian). */
const arg = (i: number) => 16 + 8 * i;

type Insn = { code: number; k: number; jt?: string; jf?: string } | { label: string };

/** Assembles with symbolic forward jump targets (every jump here is forward and short). */
function assemble(prog: readonly Insn[]): Buffer {
  const labels = new Map<string, number>();
  const insns: { code: number; k: number; jt?: string; jf?: string }[] = [];
  for (const i of prog) {
    if ('label' in i) labels.set(i.label, insns.length);
    else insns.push(i);
  }
  const out = Buffer.alloc(insns.length * 8);
  insns.forEach((i, pc) => {
    const off = (l: string | undefined) => {
      if (l === undefined) return 0;
      const to = labels.get(l);
      if (to === undefined || to <= pc || to - pc - 1 > 255) throw new Error(`seccomp: bad jump to ${l}`);
      return to - pc - 1;
    };
    out.writeUInt16LE(i.code, pc * 8);
    out.writeUInt8(off(i.jt), pc * 8 + 2);
    out.writeUInt8(off(i.jf), pc * 8 + 3);
    out.writeUInt32LE(i.k >>> 0, pc * 8 + 4);
  });
  return out;
}

/** The filter as bwrap reads it: an array of struct sock_filter. */
export function shareSeccompFilter(): Buffer {
  const ld = (k: number): Insn => ({ code: LD_W_ABS, k });
  const jeq = (k: number, jt?: string, jf?: string): Insn => ({ code: JEQ_K, k, jt, jf });
  const jset = (k: number, jt?: string, jf?: string): Insn => ({ code: JSET_K, k, jt, jf });
  const ret = (k: number): Insn => ({ code: RET_K, k });
  /** Refuse when mode argument `i` carries a setuid/setgid bit. */
  const modeCheck = (label: string, i: number): Insn[] => [{ label }, ld(arg(i)), jset(S_ISUID_ISGID, 'deny'), ret(SECCOMP_RET_ALLOW)];
  /** Refuse when open flags (argument `f`) create a file whose mode (argument `m`) is setuid/setgid. */
  const openCheck = (label: string, f: number, m: number): Insn[] => [
    { label }, ld(arg(f)), jset(O_CREATING, undefined, `${label}ok`), ld(arg(m)), jset(S_ISUID_ISGID, 'deny'), { label: `${label}ok` }, ret(SECCOMP_RET_ALLOW),
  ];
  const mknodCheck = (label: string, m: number): Insn[] => [
    { label }, ld(arg(m)), jset(S_ISUID_ISGID, 'deny'), { code: AND_K, k: S_IFMT }, jeq(S_IFCHR, 'deny'), jeq(S_IFBLK, 'deny'), ret(SECCOMP_RET_ALLOW),
  ];
  return assemble([
    ld(4), jeq(AUDIT_ARCH_X86_64, undefined, 'deny'),
    ld(0), { code: JGE_K, k: X32_BIT, jt: 'deny' },
    jeq(NR.chmod, 'm1'), jeq(NR.fchmod, 'm1'), jeq(NR.creat, 'm1'), jeq(NR.mkdir, 'm1'),
    jeq(NR.fchmodat, 'm2'), jeq(NR.fchmodat2, 'm2'), jeq(NR.mkdirat, 'm2'),
    jeq(NR.open, 'o12'), jeq(NR.openat, 'o23'),
    jeq(NR.mknod, 'n1'), jeq(NR.mknodat, 'n2'),
    // openat2's mode is behind a pointer the filter cannot read: callers fall back to openat on ENOSYS.
    jeq(NR.openat2, 'nosys'),
    { label: 'allow' }, ret(SECCOMP_RET_ALLOW),
    ...modeCheck('m1', 1), ...modeCheck('m2', 2),
    ...openCheck('o12', 1, 2), ...openCheck('o23', 2, 3),
    ...mknodCheck('n1', 1), ...mknodCheck('n2', 2),
    { label: 'nosys' }, ret(SECCOMP_RET_ERRNO | ENOSYS),
    { label: 'deny' }, ret(SECCOMP_RET_ERRNO | EPERM),
  ]);
}
