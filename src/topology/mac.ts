// Deterministic MACs: the same lab/node/interface always gets the same address, so guest
// configs, pcaps and ARP caches stay stable across runs.
import { createHash } from 'node:crypto';

export function macFor(lab: string, node: string, iface: string): string {
  const bytes = createHash('sha256').update(`${lab}/${node}/${iface}`).digest().subarray(0, 6);
  // Locally administered (bit 1) so we never collide with a vendor OUI; unicast (bit 0 clear).
  bytes[0] = ((bytes[0] ?? 0) | 0x02) & 0xfe;
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join(':');
}
