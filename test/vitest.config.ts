import { defineConfig } from 'vitest/config';
import { fileURLToPath } from 'node:url';

// Lives in test/ because the project's top level is fixed; root is the repo.
export default defineConfig({
  root: fileURLToPath(new URL('..', import.meta.url)),
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Multi-process tests spawn real processes; keep parallelism modest on 2 cores.
    maxWorkers: 2,
    fileParallelism: true,
  },
});
