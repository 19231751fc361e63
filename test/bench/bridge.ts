/**
 * Bridge bench: minified bundle size, and JavaScriptCore's `--footprint` peak
 * while 100 notifications go through the bundle (NSE role, scripted model
 * host from the conformance runner, virtual clock) minus the peak of an empty
 * script, all measured in this run. Targets: ≤ 120 KB, ≤ 3 MB.
 *
 *   npx tsx test/bench/bridge.ts
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { buildBridge } from '../../ios-bridge/build.js';
import { RUNNER, loadInVm } from '../../ios-bridge/conformance/node-runner.js';
import { findJsc, parseFootprint, runJsc } from '../helpers/jsc.js';

export const NOTIFICATIONS = 100;
const QUEUES = 10;

/** A transcript-shaped scenario: 100 one-message pushes over 10 queues, one every 50 ms. */
export function hundredNotifications(): object {
  const hex = (i: number) => (i % 256).toString(16).padStart(2, '0').repeat(32);
  const queueKeys: Record<string, string> = {};
  const queues: Record<string, object[]> = {};
  for (let q = 0; q < QUEUES; q++) {
    queueKeys[`q${q}`] = hex(q + 1);
    queues[`q${q}`] = [];
  }
  const steps = [];
  for (let i = 0; i < NOTIFICATIONS; i++) {
    const q = `q${i % QUEUES}`;
    (queues[q] as object[]).push({ msgId: `m${i}`, content: { type: 'text', text: `message number ${i} with some text`, from: 'Bench' } });
    steps.push({ at: i * 50, call: 'didReceiveNotification', args: [{ requestId: `r${i}`, queueIds: [q] }] });
  }
  return {
    name: 'bench-100',
    config: { role: 'nse', masterKeyHex: 'aa'.repeat(32), queueKeys, maxExtraGets: 0 },
    world: { queues },
    steps,
  };
}

export type BridgeBench = {
  bridge_bundle_kb: number;
  /** 100 notifications (no JIT, GC after each, as the host is told to) minus an empty script. */
  bridge_footprint_delta_mb: number | null;
  /** Loading the bundle alone minus an empty script (JavaScriptCore's fixed cost for ~100 KB of code). */
  bridge_footprint_load_mb: number | null;
  /** 100 notifications minus the same script with no notifications (bundle, runner and world loaded). */
  bridge_footprint_processing_mb: number | null;
  /** Same as delta, without the GC after each notification. */
  bridge_footprint_delta_nogc_mb: number | null;
  /** Worst case: JIT on, no GC between notifications, minus an empty script (JIT on). */
  bridge_footprint_delta_jit_nogc_mb: number | null;
};

const MB = (b: number) => Math.round((b / 1024 / 1024) * 100) / 100;

/**
 * Footprints are measured with --useJIT=false: a third-party JSContext on iOS
 * has no JIT (no dynamic-codesigning entitlement), and JIT code pages are
 * most of the difference on Linux. The NSE host runs JSGarbageCollect after
 * each contentReady (docs/ios-porting.md); the script calls gc() at the same point.
 */
export async function benchBridge(): Promise<BridgeBench> {
  const dir = mkdtempSync(join(tmpdir(), 'nsekit-bench-bridge-'));
  try {
    const b = await buildBridge({ outfile: join(dir, 'nsekit-core.js') });
    const bridge_bundle_kb = Math.round((b.bytes / 1024) * 10) / 10;
    const none = { bridge_footprint_delta_mb: null, bridge_footprint_load_mb: null, bridge_footprint_processing_mb: null, bridge_footprint_delta_nogc_mb: null, bridge_footprint_delta_jit_nogc_mb: null };
    if (!findJsc()) {
      process.stderr.write('bench bridge: jsc not installed, footprint not measured\n');
      return { bridge_bundle_kb, ...none };
    }
    // Seal the relay bodies here so the measured script only processes them.
    const t = hundredNotifications() as { config: { queueKeys: Record<string, string> }; world: { queues: Record<string, { content?: object; body?: string }[]> }; steps: unknown[] };
    const { core } = loadInVm(b.outfile) as { core: { sealE2eBody(k: string, q: string, c: object, n: string): string } };
    let n = 0;
    for (const [q, msgs] of Object.entries(t.world.queues)) {
      for (const m of msgs) {
        m.body = core.sealE2eBody(t.config.queueKeys[q]!, q, m.content!, (++n).toString(16).padStart(48, '0'));
        delete m.content;
      }
    }
    const script = (name: string, tt: object | null, gc: boolean) => {
      const lines = [`load(${JSON.stringify(b.outfile)});`];
      if (tt) {
        lines.push(
          `load(${JSON.stringify(RUNNER)});`,
          `var t = ${JSON.stringify(tt)};`,
          `NsekitConformance.run(NsekitCore, t, { record: true, keepCalls: false${gc ? ', onOutput: function () { gc(); }' : ''} })`,
          `  .then(function (r) { print('RESULT ' + JSON.stringify(r.model)); }, function (e) { print('FAILED ' + e); });`,
        );
      }
      const p = join(dir, name);
      writeFileSync(p, lines.join('\n'));
      return p;
    };
    const empty = join(dir, 'empty.js');
    writeFileSync(empty, '\n');
    const peak = async (file: string, jit: boolean, expectStored: number | null) => {
      const r = await runJsc([file], { flags: ['--footprint', `--useJIT=${jit}`], timeoutMs: 300_000 });
      if (expectStored !== null) {
        const m = /RESULT (.*)/.exec(r.stdout);
        if (!m) throw new Error(`bridge bench script failed: ${r.stdout.slice(-400)} ${r.stderr.slice(-400)}`);
        const model = JSON.parse(m[1]!) as { stored: number };
        if (model.stored !== expectStored) throw new Error(`expected ${expectStored} stored, got ${JSON.stringify(model)}`);
      }
      const p = parseFootprint(r.stdout + r.stderr);
      if (p === null) throw new Error('jsc --footprint printed no peak');
      return p;
    };
    const work = script('work.js', t, true);
    const base = script('base.js', { ...t, steps: [] }, true);
    const load = script('load.js', null, false);
    const nogc = script('nogc.js', t, false);
    const e = await peak(empty, false, null);
    const w = await peak(work, false, NOTIFICATIONS);
    const w0 = await peak(base, false, 0);
    const l = await peak(load, false, null);
    const wn = await peak(nogc, false, NOTIFICATIONS);
    const ej = await peak(empty, true, null);
    const wj = await peak(nogc, true, NOTIFICATIONS);
    return {
      bridge_bundle_kb,
      bridge_footprint_delta_mb: MB(w - e),
      bridge_footprint_load_mb: MB(l - e),
      bridge_footprint_processing_mb: MB(w - w0),
      bridge_footprint_delta_nogc_mb: MB(wn - e),
      bridge_footprint_delta_jit_nogc_mb: MB(wj - ej),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  console.log(JSON.stringify(await benchBridge()));
}
