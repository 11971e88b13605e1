// Bounds on what one topology file may ask for: far above any lab this runs, far below what hurts the runner.
// Aliases are counted expanded, so a small file cannot stand for a huge one.

const MiB = 1024 * 1024;

export const LIMITS = {
  /** Size of the file as read: a 1,000-node file is about 150 KiB, and YAML parses at a few MB/s at best. */
  fileBytes: 1 * MiB,
  /** YAML values (maps, lists, scalars, keys) once every alias and merge key is expanded. */
  values: 1_000_000,
  /** Text (keys and scalars) once expanded. */
  bytes: 32 * MiB,
  /** Nesting of maps and lists; a topology needs about 6. */
  depth: 64,
  nodes: 4096,
  links: 16_384,
  /** `run:` commands per node. */
  runCommands: 1024,
} as const;

/**
 * x86 Linux reads at most 2,048 bytes of kernel command line, the terminating NUL included. topo keeps
 * CMDLINE_RESERVE of them for its own arguments (the default guest's flags, console=, tsc_early_khz=...);
 * a node's `cmdline` gets the rest.
 */
export const KERNEL_CMDLINE_SIZE = 2048;
export const CMDLINE_RESERVE = 256;
export const MAX_USER_CMDLINE = KERNEL_CMDLINE_SIZE - 1 - CMDLINE_RESERVE;

/** fw_cfg names topo passes itself (opt/topo/config): a user entry there would collide in QEMU. */
export const RESERVED_FW_CFG_PREFIX = 'opt/topo/';

export function formatBytes(n: number): string {
  return n >= MiB ? `${(n / MiB).toFixed(1)} MiB` : n >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${n} bytes`;
}
