/**
 * Bundles the portable core for JavaScriptCore: `npm run build:bridge`.
 *
 * Output: two bundles, one per process, each one minified IIFE assigning the
 * global `NsekitCore` (plus a .map):
 *   ios-bridge/dist/nsekit-nse.js — the NSE session (src/core/bridge/nse.ts); nothing of the app
 *   ios-bridge/dist/nsekit-app.js — the app session (src/core/bridge/app.ts)
 * The banner carries the bundle's name, the package version and the sha256 of
 * the code below the banner, so the iOS team can tell which build a device
 * runs (`NsekitCore.version` too).
 */
import { build, type Plugin } from 'esbuild';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export type BridgeRole = 'nse' | 'app';
export const BRIDGE_ENTRIES: Record<BridgeRole, string> = {
  nse: join(ROOT, 'src/core/bridge/nse.ts'),
  app: join(ROOT, 'src/core/bridge/app.ts'),
};
export const BRIDGE_OUTS: Record<BridgeRole, string> = {
  nse: join(ROOT, 'ios-bridge/dist/nsekit-nse.js'),
  app: join(ROOT, 'ios-bridge/dist/nsekit-app.js'),
};
/** Binds the free globals xstate names (setTimeout, clearTimeout, Date.now, Math.random) to the host: globals-inject.ts. */
export const GLOBALS_INJECT = join(ROOT, 'ios-bridge/globals-inject.ts');
/**
 * The app signs its status requests and does nothing else with Ed25519, so its bundle takes a
 * small RFC 8032 signer (src/core/bridge/ed25519-sign.ts, same signatures) in place of
 * @noble/curves' generic curve code — about 22 KB of nsekit-app.js. Node keeps noble.
 */
export const APP_ED25519 = join(ROOT, 'src/core/bridge/ed25519-sign.ts');
const appEd25519: Plugin = {
  name: 'nsekit-app-ed25519',
  setup(b) {
    b.onResolve({ filter: /^@noble\/curves\/ed25519(\.js)?$/ }, () => ({ path: APP_ED25519 }));
  },
};
/** The NSE bundle: the default of buildBridge (the one with the memory budget). */
export const BRIDGE_ENTRY = BRIDGE_ENTRIES.nse;
export const BRIDGE_OUT = BRIDGE_OUTS.nse;
/**
 * Syntax level: the iOS floor itself, so esbuild lowers exactly what JavaScriptCore 15.4 lacks
 * (es2020 lowered more than needed: +1.2 KB NSE, +1.6 KB app). Runtime APIs are not polyfilled:
 * the bundles need Object.hasOwn (iOS 15.4), Object.fromEntries, BigInt and
 * DataView#setBigUint64 (iOS 15), so the floor is iOS 15.4 (host-contract.md "Requirements");
 * test/bridge/ios-floor.test.ts checks no newer builtin is used.
 */
export const BRIDGE_TARGET = 'ios15.4';

/** Identifiers a bare JSContext does not have; none may appear in the bundle. */
export const FORBIDDEN_IN_BUNDLE: readonly RegExp[] = [
  /\brequire\s*\(/,
  /\bimport\s*\(/,
  // import statements: import{…} / import*… / import"x" / import x from — at a statement start, so neither
  // the word "imported" nor a string ending in "import" (a log's "inbox import") counts
  /(?:^|[;{}])\s*import\s*[{*"'`]/m,
  /(?:^|[;{}])\s*import\s+[\w$]+\s*(,|from\b)/m,
  /\bprocess\s*\./,
  /\bBuffer\b/,
  /["'`]node:/,
];

export interface BridgeBuild {
  outfile: string;
  code: string;
  bytes: number;
  sha256: string;
  version: string;
}

function packageVersion(): string {
  return (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
}

/**
 * Bundle `entry` (default: the `role`'s entry, NSE unless told) into an IIFE. `globalName`
 * is what the script defines; `minify: false` is for debugging only.
 */
export async function buildBridge(
  opts: { role?: BridgeRole; entry?: string; outfile?: string; globalName?: string; minify?: boolean } = {},
): Promise<BridgeBuild> {
  const role = opts.role ?? 'nse';
  const entry = opts.entry ?? BRIDGE_ENTRIES[role];
  const roleBundle = entry === BRIDGE_ENTRIES[role];
  const outfile = opts.outfile ?? BRIDGE_OUTS[role];
  const version = packageVersion();
  const res = await build({
    entryPoints: [entry],
    bundle: true,
    format: 'iife',
    globalName: opts.globalName ?? 'NsekitCore',
    platform: 'neutral',
    // platform neutral has no default main fields; the deps ship ESM "module"/"main".
    mainFields: ['module', 'main'],
    // 'module' first: xstate's ESM build (its 'import' entry wraps the CJS build, which defeats tree shaking).
    conditions: ['module', 'import', 'default'],
    target: BRIDGE_TARGET,
    minify: opts.minify ?? true,
    sourcemap: 'external',
    legalComments: 'none',
    write: false,
    outfile,
    define: {
      'process.env.NODE_ENV': '"production"',
      __NSEKIT_VERSION__: JSON.stringify(version),
      ...(roleBundle ? { 'Date.now': 'nsekitHostNow', 'Math.random': 'nsekitHostRandom' } : {}),
    },
    // The role bundles only (a test or bench entry brings its own globals).
    inject: roleBundle ? [GLOBALS_INJECT] : [],
    plugins: roleBundle && role === 'app' ? [appEd25519] : [],
    logLevel: 'silent',
  });
  const js = res.outputFiles.find((f) => f.path.endsWith('.js'));
  const map = res.outputFiles.find((f) => f.path.endsWith('.map'));
  if (!js || !map) throw new Error('esbuild produced no output');
  const sha256 = createHash('sha256').update(js.contents).digest('hex');
  // The banner is prepended as a single line; the map's mappings start with ';' to skip it.
  const banner = `/*! nsekit-${role} ${version} sha256:${sha256} */\n`;
  const code = banner + js.text;
  const mapJson = JSON.parse(map.text) as { mappings: string };
  mapJson.mappings = ';' + mapJson.mappings;
  mkdirSync(dirname(outfile), { recursive: true });
  writeFileSync(outfile, code);
  writeFileSync(outfile + '.map', JSON.stringify(mapJson));
  return { outfile, code, bytes: Buffer.byteLength(code), sha256, version };
}

/** Returns the forbidden patterns found in `code` (empty = clean). */
export function scanBundle(code: string): string[] {
  return FORBIDDEN_IN_BUNDLE.filter((re) => re.test(code)).map((re) => re.source);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  for (const role of ['nse', 'app'] as const) {
    const b = await buildBridge({ role });
    const bad = scanBundle(b.code);
    console.log(`${b.outfile}: ${(b.bytes / 1024).toFixed(1)} KB, v${b.version}, sha256 ${b.sha256.slice(0, 16)}…`);
    if (bad.length) {
      console.error(`bundle contains forbidden references: ${bad.join(', ')}`);
      process.exit(1);
    }
  }
}
