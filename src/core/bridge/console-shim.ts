/**
 * A bare JSContext has no `console`, and xstate evaluates
 * `log.bind(console)` on the console object when its module loads. So this module — imported
 * first by the facade, hence evaluated before xstate — installs a console if
 * (and only if) the context has none. It forwards to host.log under the tag
 * "rt" once createCore has connected a host; before that, output is dropped.
 * An existing console (Node, the Web Inspector) is left alone.
 */
import type { BridgeHost } from './contract.js';

type Level = 'debug' | 'info' | 'warn' | 'error';
let sink: BridgeHost | null = null;

const g = globalThis as unknown as Record<string, unknown>;
/** True when this module installed the console (a bare JSContext). */
export const consoleShimInstalled = typeof g['console'] === 'undefined';

if (consoleShimInstalled) {
  const fwd =
    (level: Level) =>
    (...args: unknown[]) => {
      try {
        sink?.log(level, 'rt', args.map((a) => (typeof a === 'string' ? a : String(a))).join(' '), '{}');
      } catch {
        // logging must never throw into the caller
      }
    };
  g['console'] = { log: fwd('info'), info: fwd('info'), debug: fwd('debug'), warn: fwd('warn'), error: fwd('error'), trace: fwd('debug') };
}

/** Route the shim's output to this host (the last createCore wins). */
export function connectConsole(h: BridgeHost): void {
  sink = h;
}

/** The host the last createCore connected (null before): ios-bridge/globals-inject.ts routes xstate's timer and clock globals to it. */
export function connectedHost(): BridgeHost | null {
  return sink;
}
