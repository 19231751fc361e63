import { readFileSync } from 'node:fs';
import { createContext, runInContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NSE_HOST_FUNCTIONS } from '../../src/core/bridge/contract.js';
import { buildTempBundle } from './bundle.js';

/**
 * A bare JSContext has no console and xstate binds console.log at load: the
 * bundle installs one that forwards to host.log — and leaves an existing one alone.
 */
let b: Awaited<ReturnType<typeof buildTempBundle>>;
beforeAll(async () => {
  b = await buildTempBundle();
});
afterAll(() => b?.cleanup());

const noop = () => {};
function recordingHost(logs: unknown[][]) {
  const h: Record<string, unknown> = {
    now: () => 0,
    setTimer: () => 1,
    clearTimer: noop,
    randomHex: (n: number) => '00'.repeat(n),
    log: (...a: unknown[]) => logs.push(a),
    contentReady: noop,
    phaseChanged: noop,
    lockYieldPending: () => false,
  };
  for (const f of NSE_HOST_FUNCTIONS) if (!h[f]) h[f] = noop;
  return h;
}

describe('console shim', () => {
  it('installs a console in a context without one and forwards it to host.log once createCore ran', () => {
    const ctx = createContext({});
    // V8 gives every vm context a (silent) console; remove it to get a bare-JSContext-like global.
    runInContext('delete globalThis.console', ctx);
    expect(runInContext('typeof console', ctx)).toBe('undefined');
    runInContext(readFileSync(b.outfile, 'utf8'), ctx);
    expect(runInContext('typeof console.log', ctx)).toBe('function');
    runInContext('console.log("before any host")', ctx); // dropped, must not throw
    const logs: unknown[][] = [];
    (ctx as { host?: unknown }).host = recordingHost(logs);
    runInContext('NsekitCore.createCore(host, { role: "nse", queueKeys: {} }); console.warn("hello", 42);', ctx);
    expect(logs).toContainEqual(['warn', 'rt', 'hello 42', '{}']);
    expect(logs.some((l) => l[2] === 'before any host')).toBe(false);
  });

  it('leaves an existing console alone', () => {
    const seen: unknown[] = [];
    const mine = { log: (...a: unknown[]) => seen.push(a), warn: noop, error: noop, info: noop, debug: noop };
    const ctx = createContext({ console: mine });
    runInContext(readFileSync(b.outfile, 'utf8'), ctx);
    expect(runInContext('console', ctx)).toBe(mine);
    runInContext('console.log("x")', ctx);
    expect(seen).toEqual([['x']]);
  });
});
