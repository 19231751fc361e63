/**
 * esbuild `inject` for the two role bundles (build.ts): xstate's code names a
 * few globals a bare JSContext lacks or that the core must not use —
 * `setTimeout`/`clearTimeout` (its default actor clock, and re-throwing an
 * error from an observer without an error handler) and `Date.now`/`Math.random`
 * (its delayed-event scheduler). The phase machine uses none of those paths
 * (the core gives the actor the host clock and always subscribes with an error
 * handler), but with this file the bundle does not even reference them: every
 * free reference is bound here, to the host the last createCore connected. So
 * the bundle runs in a realm with nothing but the language's builtins, and the
 * portability of src/core (test/bridge/portability.test.ts) holds for the
 * bundled dependencies too. `Date.now`/`Math.random` reach these names through
 * build.ts's `define`.
 */
import { connectedHost } from '../src/core/bridge/console-shim.js';
import type { BridgeHost } from '../src/core/bridge/contract.js';

function host(what: string): BridgeHost {
  const h = connectedHost();
  if (!h) throw new Error(`${what} before createCore: no host to ask`);
  return h;
}

function hostSetTimeout(fn: () => void, ms?: number): number {
  return host('setTimeout').setTimer(Math.max(0, Math.ceil(Number(ms) || 0)), fn);
}

function hostClearTimeout(id: unknown): void {
  if (typeof id === 'number') host('clearTimeout').clearTimer(id);
}

export function nsekitHostNow(): number {
  return host('Date.now').now();
}

/** A double in [0, 1) from 53 bits of the host's randomness (SecRandomCopyBytes). */
export function nsekitHostRandom(): number {
  const hex = String(host('Math.random').randomHex(7));
  return parseInt(hex.slice(0, 13), 16) / 2 ** 52;
}

export { hostSetTimeout as setTimeout, hostClearTimeout as clearTimeout };
