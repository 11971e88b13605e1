// Seeded PRNG so a lab's impairment decisions replay identically run after run.

/** xmur3-style string hash to a 32-bit seed. */
export function hashSeed(s: string): number {
  let h = 1779033703 ^ s.length;
  for (let i = 0; i < s.length; i++) {
    h = Math.imul(h ^ s.charCodeAt(i), 3432918353);
    h = (h << 13) | (h >>> 19);
  }
  h = Math.imul(h ^ (h >>> 16), 2246822507);
  h = Math.imul(h ^ (h >>> 13), 3266489909);
  return (h ^ (h >>> 16)) >>> 0;
}

/** mulberry32: tiny, fast, good enough statistically for loss/jitter decisions. Returns [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function rngFor(seed: string): () => number {
  return mulberry32(hashSeed(seed));
}

/**
 * The seed of one direction of a link. With a lab-level `seed` (an integer), the lab's name plays no part: the
 * same seed, link and direction replay the same decisions in any lab. Without one, it derives from the lab's name
 * (stable across runs of the same lab).
 */
export function impairSeed(lab: string, linkId: string, direction: string, seed?: number): string {
  // Lab names start with a letter, so "#<seed>" never collides with one.
  const base = seed === undefined ? lab : `#${seed}`;
  return `${base}\u0000${linkId}\u0000${direction}`;
}

/** What is wrong with a lab-level seed, or null. */
export function seedProblem(seed: unknown): string | null {
  return typeof seed === 'number' && Number.isSafeInteger(seed)
    ? null
    : `seed must be an integer between -(2^53-1) and 2^53-1, got ${String(seed)}`;
}
