import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 180_000,
    hookTimeout: 300_000,
    // QEMU under TCG is CPU-bound on a 2-core machine: e2e files must not compete.
    fileParallelism: false,
  },
});
