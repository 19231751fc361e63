/**
 * Runs conformance transcripts in Node: the transcript's bundle (by
 * `config.role`: nsekit-nse.js or nsekit-app.js) and runner.js are evaluated
 * in a fresh `vm` context (no console, timers, process or Buffer — like a bare
 * JSContext). CLI:
 *
 *   npx tsx ios-bridge/conformance/node-runner.ts [--record] [transcript.json…]
 *
 * --record answers host calls from the runner's model and rewrites each file's
 * `expected` (not the sim-* transcripts: `nsekit transcript` re-records those from the
 * simulator); without it, replays and exits 1 on the first divergence.
 */
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createContext, runInContext } from 'node:vm';

const HERE = dirname(fileURLToPath(import.meta.url));
export const RUNNER = join(HERE, 'runner.js');
export const TRANSCRIPT_DIR = HERE;

export interface Transcript {
  name: string;
  description: string;
  config: Record<string, unknown>;
  world?: Record<string, unknown>;
  /** Facade calls (`call`), or what the host does on its own (`host`: 'deliver' a SUB message, 'close' the connection). */
  steps: { at?: number; call?: string; args?: unknown[]; host?: string; queueId?: string; msgId?: string; content?: unknown; ts?: number; notification?: boolean; body?: string }[];
  expected?: Record<string, unknown>[];
  /** Recorded from the simulator (sim/bridge/record-transcript.ts): re-recorded by `nsekit transcript`, not by --record. */
  sim?: { scenario: string; seed: number; role: string; command: string };
}
export interface RunResult {
  name: string;
  ok: boolean;
  events: Record<string, unknown>[];
  /** FNV-1a of the exact event JSON sequence (log text included): equal in jsc and Node. */
  digest: string;
  mismatch: { index: number; expected: unknown; actual: unknown } | null;
  /** The model host's state at the end: inbox lines (inboxBad: complete bad lines, e.g. a torn fragment a newline closed), stored ids, messages left at the relay. */
  model: { inbox: number; inboxBad: number; stored: number; relayLeft: number };
}

interface Conformance {
  run(core: unknown, t: Transcript, opts: { record?: boolean; keepCalls?: boolean; settle?: () => Promise<void> }): Promise<RunResult>;
}

/** A fresh context with the bundle and the runner loaded. */
export function loadInVm(bundlePath: string): { core: unknown; conformance: Conformance; removed: string[] } {
  const ctx = createContext({});
  // Bare first, as in jsc: V8 gives every context a console (a bare JSContext has none, so the bundle must
  // install its own here too), and Node 20's V8 has builtins newer than the iOS floor (runner.js bareRealm).
  const removed = runInContext(bareRealmSource(), ctx) as string[];
  runInContext(readFileSync(bundlePath, 'utf8'), ctx, { filename: bundlePath });
  runInContext(readFileSync(RUNNER, 'utf8'), ctx, { filename: RUNNER });
  const g = ctx as { NsekitCore: unknown; NsekitConformance: Conformance };
  return { core: g.NsekitCore, conformance: g.NsekitConformance, removed: JSON.parse(JSON.stringify(removed)) as string[] };
}

/** runner.js's bareRealm as a script (read from a scratch context: the runner is the one source of it). */
export function bareRealmSource(): string {
  const scratch = createContext({});
  runInContext(readFileSync(RUNNER, 'utf8'), scratch, { filename: RUNNER });
  return (scratch as { NsekitConformance: { bareRealmSource: string } }).NsekitConformance.bareRealmSource;
}

export function transcriptFiles(dir = TRANSCRIPT_DIR): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => join(dir, f));
}

export type BridgeRole = 'nse' | 'app';
/** A transcript's bundle: its config.role's ('nse' unless it says 'app'; a bad role is the NSE bundle's to refuse). */
export function roleOf(t: Transcript): BridgeRole {
  return (t.config as { role?: unknown }).role === 'app' ? 'app' : 'nse';
}

/** Run (or record) one transcript in its own fresh context, with its role's bundle. Results are plain JSON (copied out of the vm realm). */
export async function runInNode(bundles: Record<BridgeRole, string>, t: Transcript, record = false): Promise<RunResult> {
  const { core, conformance } = loadInVm(bundles[roleOf(t)]);
  // setImmediate runs after the microtask queue is empty: the same "settled" point as jsc's setTimeout(0).
  const r = await conformance.run(core, t, { record, settle: () => new Promise<void>((res) => setImmediate(res)) });
  return JSON.parse(JSON.stringify(r)) as RunResult;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { buildBridge } = await import('../build.js');
  const record = process.argv.includes('--record');
  const files = process.argv.slice(2).filter((a) => !a.startsWith('--'));
  const bundles = { nse: (await buildBridge({ role: 'nse' })).outfile, app: (await buildBridge({ role: 'app' })).outfile };
  let failed = 0;
  for (const f of files.length ? files.map((x) => resolve(x)) : transcriptFiles()) {
    const t = JSON.parse(readFileSync(f, 'utf8')) as Transcript;
    if (record && t.sim) {
      // Its replies came from the simulated world, not from the runner's model.
      console.log(`skipped ${t.name}: recorded from the simulator, re-record with: ${t.sim.command}`);
      continue;
    }
    const r = await runInNode(bundles, t, record);
    if (record) {
      t.expected = r.events;
      writeFileSync(f, JSON.stringify(t, null, 1) + '\n');
      console.log(`recorded ${t.name}: ${r.events.length} events (stored ${r.model.stored}, inbox ${r.model.inbox}, left at relay ${r.model.relayLeft})`);
    } else {
      console.log(`${r.ok ? 'ok  ' : 'FAIL'} ${t.name} (${r.events.length} events)`);
      if (!r.ok) {
        failed++;
        console.log(JSON.stringify(r.mismatch, null, 1));
      }
    }
  }
  process.exit(failed ? 1 : 0);
}
