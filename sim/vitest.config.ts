import { defineConfig } from 'vitest/config';
import { fileURLToPath } from 'node:url';

/**
 * The vitest config for scenario tests kept anywhere in a checkout, not only in test/
 * (docs/reproducing-races.md "Where tests live"): `nsekit test DIR` runs it with `--dir DIR`,
 * or `npx vitest run --config sim/vitest.config.ts --dir DIR`. Test files import the
 * test-author API as `nsekit/test` (aliased here to sim/vitest.ts), so an import does not
 * depend on how deep the file sits.
 */
const REPO = fileURLToPath(new URL('..', import.meta.url));

export default defineConfig({
  root: REPO,
  resolve: { alias: [{ find: /^nsekit\/test$/, replacement: fileURLToPath(new URL('./vitest.ts', import.meta.url)) }] },
  test: {
    include: ['**/*.test.ts'],
    exclude: ['**/node_modules/**', '**/.git/**', 'runs/**'],
    // A real-mode run takes seconds on a loaded 2-core machine.
    testTimeout: 120_000,
    hookTimeout: 60_000,
    maxWorkers: 2,
  },
});
