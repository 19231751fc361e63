import { build } from 'esbuild';
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ENTRY } from './proc.js';

const CACHE = fileURLToPath(new URL('../../node_modules/.cache/nsekit/', import.meta.url));
/** Remove bundles left by processes that died without their exit hook (e.g. killed test workers). */
function sweepStale(): void {
  for (const f of readdirSync(CACHE)) {
    const pid = Number(/^(?:app|nse)-(\d+)-/.exec(f)?.[1]);
    if (!pid || pid === process.pid) continue;
    try {
      process.kill(pid, 0);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ESRCH') rmSync(CACHE + f, { force: true });
    }
  }
}

let built: Promise<{ app: string; nse: string }> | null = null;

/**
 * "Install the app": bundle the app and NSE entry points once per device
 * process with esbuild (native addons stay external), so a push launches the
 * NSE as `node launcher.cjs nse.cjs` — no TypeScript compile on the cold path,
 * which is what the NSE's cold-start budget measures. CommonJS, not ESM, so
 * the launcher can compile it with a V8 code cache (src/device/launcher.cjs).
 * The bundle lives under node_modules/.cache so the externals resolve from
 * the repo.
 */
export function bundleEntries(): Promise<{ app: string; nse: string }> {
  if (!built) {
    built = (async () => {
      mkdirSync(CACHE, { recursive: true });
      sweepStale();
      const tag = `${process.pid}-${Date.now().toString(36)}`;
      const out = { app: `${CACHE}app-${tag}.cjs`, nse: `${CACHE}nse-${tag}.cjs` };
      await build({
        entryPoints: { [`app-${tag}`]: ENTRY.app, [`nse-${tag}`]: ENTRY.nse },
        outdir: CACHE,
        outExtension: { '.js': '.cjs' },
        bundle: true,
        platform: 'node',
        format: 'cjs',
        target: 'node20',
        // Only the native addons stay external: resolving many small files costs cold-start time.
        external: ['better-sqlite3', 'fs-ext', 'bufferutil', 'utf-8-validate'],
        // The sources are ESM; the few `createRequire(import.meta.url)` calls need a URL in CommonJS.
        define: { 'import.meta.url': '__nsekitModuleUrl' },
        banner: { js: "const __nsekitModuleUrl = require('node:url').pathToFileURL(__filename).href;" },
        logLevel: 'silent',
      });
      // Per-process files (concurrent test workers never share one): removed when we exit.
      process.once('exit', () => {
        for (const f of Object.values(out)) for (const g of [f, `${f}.v8cache`]) rmSync(g, { force: true });
      });
      return out;
    })();
    built.catch(() => (built = null));
  }
  return built;
}
