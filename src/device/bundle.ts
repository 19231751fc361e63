import { build } from 'esbuild';
import { mkdirSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ENTRY } from './proc.js';

const CACHE = fileURLToPath(new URL('../../node_modules/.cache/nsekit/', import.meta.url));
let built: Promise<{ app: string; nse: string }> | null = null;

/**
 * "Install the app": bundle the app and NSE entry points once per device
 * process with esbuild (native addons and ws stay external), so a push can
 * launch the NSE as plain `node nse.mjs` — no TypeScript compile on the cold
 * path, which is what the NSE's cold-start budget measures. The bundle lives
 * under node_modules/.cache so the externals resolve from the repo.
 */
export function bundleEntries(): Promise<{ app: string; nse: string }> {
  if (!built) {
    built = (async () => {
      mkdirSync(CACHE, { recursive: true });
      const tag = `${process.pid}-${Date.now().toString(36)}`;
      const out = { app: `${CACHE}app-${tag}.mjs`, nse: `${CACHE}nse-${tag}.mjs` };
      await build({
        entryPoints: { [`app-${tag}`]: ENTRY.app, [`nse-${tag}`]: ENTRY.nse },
        outdir: CACHE,
        outExtension: { '.js': '.mjs' },
        bundle: true,
        platform: 'node',
        format: 'esm',
        target: 'node20',
        external: ['better-sqlite3', 'fs-ext', 'ws', 'proper-lockfile', 'bufferutil', 'utf-8-validate'],
        logLevel: 'silent',
      });
      // Per-process files (concurrent test workers never share one): removed when we exit.
      process.once('exit', () => {
        for (const f of Object.values(out)) rmSync(f, { force: true });
      });
      return out;
    })();
    built.catch(() => (built = null));
  }
  return built;
}
