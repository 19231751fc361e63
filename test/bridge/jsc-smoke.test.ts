import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBridge } from '../../ios-bridge/build.js';
import { findJsc, runJsc } from '../helpers/jsc.js';
import { APP_HOST_FUNCTIONS, NSE_HOST_FUNCTIONS } from '../../src/core/bridge/contract.js';
import { buildTempBundle } from './bundle.js';
import { run } from './smoke-entry.js';
import { fileURLToPath } from 'node:url';

/**
 * Issue 2's smoke test: src/core bundled with esbuild runs in real
 * JavaScriptCore — envelopes seal/open, the phase machine goes
 * background → suspend → activate on a host clock — and prints exactly what
 * the same code prints in Node.
 */
const jsc = findJsc();
if (!jsc) console.warn('[bridge] jsc not installed: JavaScriptCore smoke test SKIPPED (apt-get install libjavascriptcoregtk-4.0-bin)');

describe.skipIf(!jsc)('src/core in real JavaScriptCore (jsc smoke)', () => {
  let tmp: Awaited<ReturnType<typeof buildTempBundle>>;
  let smokeJs = '';
  beforeAll(async () => {
    tmp = await buildTempBundle();
    smokeJs = join(tmp.dir, 'smoke.js');
    await buildBridge({ entry: fileURLToPath(new URL('./smoke-entry.ts', import.meta.url)), outfile: smokeJs, globalName: 'NsekitSmoke' });
  });
  afterAll(() => tmp?.cleanup());

  it('seals/opens an envelope and runs the phase machine, identically to Node', async () => {
    const driver = join(tmp.dir, 'drive.js');
    writeFileSync(driver, `load(${JSON.stringify(smokeJs)});\nNsekitSmoke.run(print).then(() => print('DONE'), (e) => print('FAILED ' + e + ' ' + e.stack));\n`);
    const r = await runJsc([driver], { timeoutMs: 60_000 });
    expect(r.timedOut).toBe(false);
    const lines = r.stdout.trim().split('\n');
    expect(lines.pop(), r.stdout + r.stderr).toBe('DONE');
    const fromJsc = JSON.parse(lines.pop()!);
    let fromNode = '';
    await run((s) => (fromNode = s));
    expect(fromJsc).toEqual(JSON.parse(fromNode));
    expect(fromJsc.opened).toBe('héllo, jsc 👋');
    expect(fromJsc.tamper).toBe('CRYPTO_AUTH_FAILED');
    expect(fromJsc.phase).toBe('active');
    expect(fromJsc.waited).toMatch(/^ran at t=/);
    const s = fromJsc.steps as string[];
    // The DB op in flight holds the drain: onSuspend only after it finished, 'suspended' after onSuspend.
    expect(s.indexOf('db in flight at t=100')).toBeLessThan(s.indexOf('onSuspend'));
    expect(s.indexOf('onSuspend')).toBeLessThan(s.indexOf('suspended'));
    expect(s.indexOf('suspended')).toBeLessThan(s.indexOf('onActivate'));
    expect(s).toEqual(expect.arrayContaining(['phase:background', 'phase:suspending', 'phase:suspended', 'phase:active']));
  });

  it('each facade bundle loads in a bare jsc (no console/timers) and reports its version', async () => {
    const driver = join(tmp.dir, 'version.js');
    for (const [path, n] of [[tmp.outfile, NSE_HOST_FUNCTIONS.length], [tmp.app.outfile, APP_HOST_FUNCTIONS.length]] as const) {
      writeFileSync(driver, `print(typeof console);\nload(${JSON.stringify(path)});\nprint(NsekitCore.version + ' ' + typeof console.log + ' ' + NsekitCore.HOST_FUNCTIONS.length);\n`);
      const r = await runJsc([driver], { timeoutMs: 30_000 });
      expect(r.stdout.trim().split('\n')).toEqual(['undefined', `${tmp.version} function ${n}`]);
    }
  });
});
