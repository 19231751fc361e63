import { build, type BuildOptions } from 'esbuild';
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

/** The app and NSE entry modules to bundle. */
export interface Entries {
  app: string;
  nse: string;
}

/** One build per pair of entry modules (the key names both), per process. */
const builds = new Map<string, Promise<Entries>>();
let seq = 0;

/** How the entries are bundled (also used by the test that checks what the shipping bundle contains). */
export const BUNDLE_OPTIONS = {
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
} satisfies BuildOptions;

/**
 * "Install the app": bundle the app and NSE entry points once per device
 * process with esbuild (native addons stay external), so a push launches the
 * NSE as `node launcher.cjs nse.cjs` — no TypeScript compile on the cold path,
 * which is what the NSE's cold-start budget measures. CommonJS, not ESM, so
 * the launcher can compile it with a V8 code cache (src/device/launcher.cjs).
 * The bundle lives under node_modules/.cache so the externals resolve from
 * the repo. `entries` defaults to the shipping entries (ENTRY); other entries
 * (e.g. a simulation build) get their own bundle files, never a shared one.
 */
export function bundleEntries(entries: Entries = ENTRY): Promise<Entries> {
  const key = `${entries.app}\u0000${entries.nse}`;
  let built = builds.get(key);
  if (!built) {
    built = (async () => {
      mkdirSync(CACHE, { recursive: true });
      sweepStale();
      const tag = `${process.pid}-${(++seq).toString(36)}-${Date.now().toString(36)}`;
      const out = { app: `${CACHE}app-${tag}.cjs`, nse: `${CACHE}nse-${tag}.cjs` };
      await build({
        entryPoints: { [`app-${tag}`]: entries.app, [`nse-${tag}`]: entries.nse },
        ...BUNDLE_OPTIONS,
        outdir: CACHE,
      });
      // Per-process files (concurrent test workers never share one): removed when we exit.
      process.once('exit', () => {
        for (const f of Object.values(out)) for (const g of [f, `${f}.v8cache`]) rmSync(g, { force: true });
      });
      return out;
    })();
    builds.set(key, built);
    built.catch(() => builds.delete(key));
  }
  return built;
}
