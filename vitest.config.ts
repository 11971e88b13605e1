import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/**/*.test.ts'],
          exclude: ['test/**/*.e2e.test.ts'],
          // Some unit tests spawn processes (fake QEMU, swtpm, the CLI): generous on a loaded 2-core machine.
          testTimeout: 30_000,
          // Two files at once: most of a unit file's time is waiting on the processes it starts (vitest's default here is one worker).
          maxWorkers: 2,
          // Unit files first, then e2e: the two never compete for the 2 cores.
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/**/*.e2e.test.ts'],
          // Builds the default guest once; only e2e files boot QEMU.
          globalSetup: ['test/e2e-setup.ts'],
          testTimeout: 240_000,
          hookTimeout: 600_000,
          // QEMU under TCG is CPU-bound on a 2-core machine: e2e files must not compete.
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
