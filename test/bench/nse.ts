/**
 * NSE latency and drain, with real processes over loopback.
 *
 *   nse latency  push received by the device's HTTP listener → the NSE's
 *                notification content event (message GOT, decrypted, stored
 *                under the lock, ACKed, content ready). Cold = a fresh NSE
 *                process per push (launched from the pre-built bundle); warm =
 *                the live NSE reused. Measured while the app process stores a
 *                steady stream of messages on another queue (lock contention).
 *   drain        lifecycle `suspend` sent to the loaded app → its `suspended`
 *                event (operations drained, store checkpointed and closed,
 *                lock released).
 *
 * Runnable alone: `npx tsx test/bench/nse.ts [--quick]` prints one JSON line.
 */
import { spawn } from 'node:child_process';
import { World } from '../../src/cli/world.js';
import { childEnv } from '../../src/device/proc.js';

/** Raw baseline: spawn a bare node process that only says hello over IPC (same environment as the NSE). */
async function bareNodeStartMs(): Promise<number> {
  const t0 = Date.now();
  const c = spawn(process.execPath, ['-e', "process.send('up', () => process.exit(0))"], { env: childEnv(), stdio: ['ignore', 'ignore', 'ignore', 'ipc'] });
  await new Promise<void>((resolve, reject) => {
    c.once('message', () => resolve());
    c.once('exit', (code) => (code ? reject(new Error(`bare node exited ${code}`)) : resolve()));
  });
  const ms = Date.now() - t0;
  await new Promise((r) => (c.exitCode !== null ? r(null) : c.once('exit', r)));
  return ms;
}

export interface NseBenchOptions {
  quick?: boolean;
  coldSamples?: number;
  warmSamples?: number;
  drainSamples?: number;
  /** App load: messages per second on the app's queue during measurement. */
  loadPerSec?: number;
}

export interface NseBenchResult {
  nse_latency_p50_ms: number;
  nse_latency_p99_ms: number;
  nse_cold_p50_ms: number;
  nse_warm_p50_ms: number;
  drain_p99_ms: number;
  [k: string]: number;
}

function pct(xs: number[], p: number): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

export async function benchNse(opts: NseBenchOptions = {}): Promise<NseBenchResult> {
  const q = opts.quick ?? false;
  const coldN = opts.coldSamples ?? (q ? 4 : 10);
  const warmN = opts.warmSamples ?? (q ? 20 : 60);
  const drainN = opts.drainSamples ?? (q ? 8 : 25);
  const loadPerSec = opts.loadPerSec ?? 100;
  // Queue 0: NSE only (pushes). Queue 1: app only (SUB, steady writes).
  const w = new World({
    queues: 2,
    queueOnly: { 0: 'nse', 1: 'app' },
    nseWhenForeground: true,
    notify: { coalesceMs: 0, bundleMax: 1 },
    procConfig: { nseGraceMs: 600_000, nseBudgetMs: 600_000, nseMaxExtraGets: 0, logLevel: 'warn' },
    procOpts: { stderr: 'ignore' },
  });
  let loading = false;
  let loadLoop: Promise<void> = Promise.resolve();
  try {
    await w.start();
    const d = w.device;
    await d.launchApp();
    await d.waitEvent('app', 'wake', () => true, { timeoutMs: 60_000 });

    // Steady app writes: the app stores every message of queue 1 under the shared lock.
    loading = true;
    let loadSent = 0;
    loadLoop = (async () => {
      const gap = 1000 / loadPerSec;
      while (loading) {
        await w.send(1, `load ${loadSent++}`, { notification: false });
        await new Promise((r) => setTimeout(r, gap));
      }
    })();
    await d.waitCount('app', 'stored', 5, () => true, { timeoutMs: 30_000 });

    const sample = async (text: string): Promise<number> => {
      const from = d.events.length;
      await w.send(0, text);
      const e = await d.waitEvent('nse', 'notification', (x) => x.body === text, { from, timeoutMs: 60_000 });
      return e.latencyMs as number;
    };

    const cold: number[] = [];
    const coldReady: number[] = [];
    const bare: number[] = [];
    for (let i = 0; i < coldN; i++) {
      if (d.nse?.alive) await d.nse.kill();
      const from = d.events.length;
      cold.push(await sample(`cold ${i}`));
      const ready = d.events.slice(from).find((e) => e.name === 'ready' && e.role === 'nse');
      if (ready) coldReady.push((ready.at as number) - d.nse!.spawnedAt);
      bare.push(await bareNodeStartMs()); // interleaved: same load conditions
    }
    const warm: number[] = [];
    await sample('warm-up'); // the first push after a launch is cold; start warm from here
    for (let i = 0; i < warmN; i++) warm.push(await sample(`warm ${i}`));

    const drains: number[] = [];
    for (let i = 0; i < drainN; i++) {
      const from = d.events.length;
      const t0 = Date.now();
      await d.appLifecycle('suspend', { deadlineMs: 1_000 });
      const s = await d.waitEvent('app', 'suspended', () => true, { from, timeoutMs: 30_000 });
      if (s.lockHeld) throw new Error('app reported suspended while holding the lock');
      drains.push((s.at as number) - t0);
      const from2 = d.events.length;
      await d.appLifecycle('active');
      await d.waitEvent('app', 'wake', () => true, { from: from2, timeoutMs: 30_000 });
      // Let the load reach the store again before the next suspend.
      await d.waitEvent('app', 'stored', () => true, { from: d.events.length, timeoutMs: 30_000 });
    }
    loading = false;
    await loadLoop;
    const all = [...cold, ...warm];
    return {
      nse_latency_p50_ms: pct(all, 50),
      nse_latency_p99_ms: pct(all, 99),
      nse_cold_p50_ms: pct(cold, 50),
      nse_cold_spawn_to_ready_p50_ms: pct(coldReady, 50),
      raw_node_spawn_ipc_p50_ms: pct(bare, 50),
      nse_cold_ratio: pct(cold, 50) / pct(bare, 50),
      nse_warm_p50_ms: pct(warm, 50),
      nse_warm_p99_ms: pct(warm, 99),
      drain_p50_ms: pct(drains, 50),
      drain_p99_ms: pct(drains, 99),
      nse_samples_cold: cold.length,
      nse_samples_warm: warm.length,
      app_load_msgs: loadSent,
    };
  } finally {
    loading = false;
    await loadLoop.catch(() => {});
    await w.stop();
  }
}

const isMain = process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/^.*\/test\/bench\//, '/test/bench/'));
if (isMain) {
  benchNse({ quick: process.argv.includes('--quick') }).then(
    (r) => {
      console.log(JSON.stringify(r));
      process.exit(0);
    },
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
