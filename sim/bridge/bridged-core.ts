/**
 * What a bridged process of a fast run needs whatever its role (./bridged-nse.ts, ./bridged-app.ts):
 * the bundle loaded as the conformance runner loads it, the queues' keys as the config gives them,
 * and createCore recorded as the runner records it.
 */
import { readFileSync } from 'node:fs';
import { createContext, runInContext } from 'node:vm';
import { toHex } from '../../src/core/bytes.js';
import { bareRealmSource } from '../../ios-bridge/conformance/node-runner.js';
import type { FastWorld } from '../fast/world.js';
import type { RecordLoop } from './record-loop.js';

interface BundleCore {
  createCore(host: unknown, config: unknown): Record<string, (...a: unknown[]) => unknown>;
}
export interface LoadedBundle {
  core: BundleCore;
  realm: { Promise: PromiseConstructor; JSON: JSON };
}

/** The bundle in a fresh realm made bare first (runner.js bareRealm), as node-runner.ts replays it. */
export function loadBundle(path: string): LoadedBundle {
  const ctx = createContext({});
  runInContext(bareRealmSource(), ctx);
  runInContext(readFileSync(path, 'utf8'), ctx, { filename: path });
  const g = ctx as { NsekitCore: BundleCore };
  return { core: g.NsekitCore, realm: { Promise: runInContext('Promise', ctx) as PromiseConstructor, JSON: runInContext('JSON', ctx) as JSON } };
}

/** `config.queueKeys`: every queue of the world with its end-to-end key. */
export function queueKeysOf(w: FastWorld): Record<string, string> {
  const keys: Record<string, string> = {};
  for (const q of w.queueIds) keys[q] = toHex(w.e2eKeys.get(q)!);
  return keys;
}

/** createCore at t = 0, its outcome recorded as the runner records it; the loop's steps call the core. */
export function startCore(loop: RecordLoop, bundle: LoadedBundle, host: unknown, config: Record<string, unknown>): void {
  try {
    loop.core = bundle.core.createCore(host, config);
    loop.emit({ out: 'createCore', ok: true });
  } catch (e) {
    const x = e as { code?: unknown; message?: unknown };
    loop.emit({ out: 'createCore', ok: false, error: { code: typeof x.code === 'string' ? x.code : 'UNCODED', message: String(x.message ?? e) } });
  }
}
