'use strict';
/**
 * How the device launches an installed (bundled) app or NSE:
 * `node launcher.cjs <bundle.cjs>`. The bundle is compiled through vm.Script
 * with the V8 code cache kept beside it (`<bundle>.v8cache`), so a launch does
 * not re-parse ~450 KB of JavaScript nor re-compile, function by function, the
 * code its first push runs — the NSE is launched per push and its cold start
 * is budgeted (docs/processes.md). The process writes the cache once it has
 * done real work (`saveCodeCache()` in src/device/code-cache.ts), so it holds
 * the compiled code of that path; V8 rejects a cache that does not match the
 * source or the node binary, and then it is written again.
 *
 * Plain CommonJS on purpose: it runs before (and without) any TypeScript.
 */
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');
const Module = require('node:module');

const file = path.resolve(process.argv[2]);
const cacheFile = `${file}.v8cache`;
process.argv.splice(1, 1); // the bundle sees itself as the main script

let cachedData;
try {
  cachedData = fs.readFileSync(cacheFile);
} catch {
  cachedData = undefined; // first launch after install
}
const script = new vm.Script(Module.wrap(fs.readFileSync(file, 'utf8')), { filename: file, cachedData });
let cacheCurrent = cachedData !== undefined && !script.cachedDataRejected;
globalThis.__nsekitCodeCacheState = cachedData === undefined ? 'none' : cacheCurrent ? 'used' : 'rejected';

globalThis.__nsekitSaveCodeCache = () => {
  if (cacheCurrent) return;
  cacheCurrent = true;
  const tmp = `${cacheFile}.${process.pid}.tmp`;
  try {
    fs.writeFileSync(tmp, script.createCachedData());
    fs.renameSync(tmp, cacheFile); // atomic: a concurrent launch reads the old cache or the new one
  } catch {
    fs.rmSync(tmp, { force: true }); // a cache is an optimization only
  }
};

const mod = new Module(file, null);
mod.filename = file;
mod.paths = Module._nodeModulePaths(path.dirname(file));
script.runInThisContext()(mod.exports, Module.createRequire(file), mod, file, path.dirname(file));
