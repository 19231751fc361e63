import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createContext, runInContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bareRealmSource, loadInVm, RUNNER } from '../../ios-bridge/conformance/node-runner.js';
import { findJsc, runJsc } from '../helpers/jsc.js';
import { buildTempBundle } from './bundle.js';

/**
 * The bundles need nothing but the language's builtins as JavaScriptCore has
 * them on the iOS floor (15.4, host-contract.md "Requirements"), and the
 * conformance runner proves it by running them in a fresh realm made bare
 * (runner.js bareRealm): no host extras, no builtin shipped after iOS 15.4.
 * Here: that realm really is bare, and the bundles' source names no newer
 * builtin even on paths no transcript takes.
 */

/** ECMAScript's global names (ES2021 + Intl/WebAssembly, which a JSContext also has): all a bare realm may hold. */
const ES_GLOBALS = new Set(
  ('AggregateError Array ArrayBuffer Atomics BigInt BigInt64Array BigUint64Array Boolean DataView Date Error EvalError ' +
    'FinalizationRegistry Float32Array Float64Array Function Infinity Int16Array Int32Array Int8Array Intl JSON Map Math NaN ' +
    'Number Object Promise Proxy RangeError ReferenceError Reflect RegExp Set SharedArrayBuffer String Symbol SyntaxError ' +
    'TypeError URIError Uint16Array Uint32Array Uint8Array Uint8ClampedArray WeakMap WeakRef WeakSet WebAssembly decodeURI ' +
    'decodeURIComponent encodeURI encodeURIComponent escape eval globalThis isFinite isNaN parseFloat parseInt undefined unescape').split(' '),
);

/** Builtins that shipped in Safari/JavaScriptCore after iOS 15.4 (version in the comment of runner.js bareRealm). */
const AFTER_FLOOR_NAMES = [
  'toSorted', 'toReversed', 'toSpliced', 'fromAsync', 'groupBy', 'withResolvers', 'isWellFormed', 'toWellFormed',
  'transferToFixedLength', 'waitAsync', 'symmetricDifference', 'isSubsetOf', 'isSupersetOf', 'isDisjointFrom',
  'fromBase64', 'toBase64', 'setFromBase64', 'setFromHex', 'f16round', 'sumPrecise', 'captureStackTrace', 'rawJSON',
  'isRawJSON', 'isError', 'Float16Array', 'Iterator', 'DisposableStack', 'SuppressedError',
];
/** What a bare JSContext lacks; a free reference to one in the bundle would be a ReferenceError on a device. */
const HOST_GLOBALS = /(?<![\w.$])(setTimeout|clearTimeout|setInterval|clearInterval|setImmediate|queueMicrotask|structuredClone|atob|btoa|TextEncoder|TextDecoder|performance|fetch|crypto)\b(?!\s*:)/;
/** The core's clock and randomness come from the host (xstate's references are bound by ios-bridge/globals-inject.ts). */
const CLOCK_RANDOM = /\bDate\s*\.\s*now\b|\bMath\s*\.\s*random\b|\bnew\s+Date\s*\(\s*\)/;

/** Code with string literals blanked (log texts and error messages may name anything). */
function code(src: string): string {
  return src.replace(/'(?:\\.|[^'\\\n])*'|"(?:\\.|[^"\\\n])*"|`(?:\\.|[^`\\])*`/g, '""');
}

let b: Awaited<ReturnType<typeof buildTempBundle>>;
beforeAll(async () => {
  b = await buildTempBundle();
});
afterAll(() => b?.cleanup());

describe('the bundles on the iOS 15.4 floor', () => {
  it('name no builtin newer than iOS 15.4 and no host global; the scan bites', () => {
    for (const x of [b, b.app]) {
      const c = code(x.code);
      const newer = AFTER_FLOOR_NAMES.filter((n) => new RegExp(`\\b${n}\\b`).test(c));
      expect(newer, x.outfile).toEqual([]);
      expect(HOST_GLOBALS.exec(c)?.[0] ?? null, x.outfile).toBeNull();
      expect(CLOCK_RANDOM.exec(c)?.[0] ?? null, x.outfile).toBeNull();
    }
    expect(HOST_GLOBALS.test(code('function f(n){setTimeout(()=>{throw n})}'))).toBe(true);
    expect(HOST_GLOBALS.test(code('x={clock:{setTimeout:(a,b)=>h(a,b)}};y.setTimeout(1)'))).toBe(false);
    expect(CLOCK_RANDOM.test(code('y=Math.random().toString(36)'))).toBe(true);
    expect(code('a.toSorted()')).toMatch(/\btoSorted\b/);
  });

  it('Node: the vm realm the runner uses holds only ECMAScript globals, none newer than the floor', () => {
    const ctx = createContext({});
    const removed = runInContext(bareRealmSource(), ctx) as string[];
    expect(removed).toContain('console'); // V8's, which a JSContext does not have
    expect(removed.filter((r) => r.includes('NOT REMOVED'))).toEqual([]);
    const left = runInContext('Object.getOwnPropertyNames(globalThis)', ctx) as string[];
    expect(left.filter((n) => !ES_GLOBALS.has(n))).toEqual([]);
    const probe = runInContext(
      `[typeof [].toSorted, typeof Object.groupBy, typeof Promise.withResolvers, typeof Array.fromAsync, typeof "".isWellFormed, typeof new Set().union]`,
      ctx,
    ) as string[];
    expect([...probe]).toEqual(Array(6).fill('undefined'));
    // And the bundles load and build a core there (the conformance suite then replays every transcript in it).
    for (const x of [b, b.app]) expect(typeof (loadInVm(x.outfile).core as { createCore?: unknown }).createCore).toBe('function');
  });

  const jsc = findJsc();
  describe.skipIf(!jsc)('jsc', () => {
    it('the fresh realm holds none of the shell extras: every identifier in the jsc binary is absent or an ECMAScript global', async () => {
      // Candidate names: every identifier-like string in the jsc shell binary, and every suffix of it (the
      // linker merges "print" into the tail of a longer string). A shell global the list misses fails here.
      const bin = readFileSync(jsc!).toString('latin1');
      const names = new Set<string>();
      for (const m of bin.matchAll(/[A-Za-z_$][A-Za-z0-9_$]{1,40}/g)) {
        for (let i = 0; i < m[0].length - 1; i++) if (/^[A-Za-z_$]/.test(m[0].slice(i))) names.add(m[0].slice(i));
      }
      const list = join(b.dir, 'names.json');
      writeFileSync(list, JSON.stringify([...names]));
      const probe = join(b.dir, 'probe.js');
      writeFileSync(
        probe,
        [
          `load(${JSON.stringify(RUNNER)});`,
          `var realm = $262.createRealm();`,
          `var removed = realm.evalScript(NsekitConformance.bareRealmSource);`,
          `var g = realm.global;`,
          `var names = JSON.parse(readFile(${JSON.stringify(list)}));`,
          `print(JSON.stringify({ removed: removed, count: names.length, present: names.filter(function (n) { return n in g && !(n in Object.prototype); }),`,
          `  probe: realm.evalScript('[typeof print, typeof setTimeout, typeof atob, typeof console, typeof load, typeof $262, typeof readFile, typeof [].toSorted, typeof Promise.withResolvers, typeof Uint8Array.prototype.toHex, typeof Iterator]') }));`,
        ].join('\n'),
      );
      const r = await runJsc([probe], { timeoutMs: 60_000 });
      const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as { removed: string[]; count: number; present: string[]; probe: string[] };
      expect(out.count).toBeGreaterThan(1000);
      expect(out.removed).toEqual(expect.arrayContaining(['print', 'setTimeout', 'atob', 'load', '$262', 'readFile']));
      expect(out.removed.filter((x) => x.includes('NOT REMOVED'))).toEqual([]);
      expect(out.present.filter((n) => !ES_GLOBALS.has(n))).toEqual([]);
      expect(out.probe).toEqual(Array(11).fill('undefined'));
    });
  });
});
