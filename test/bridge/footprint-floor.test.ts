import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createContext, runInContext } from 'node:vm';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBridge } from '../../ios-bridge/build.js';
import { loadInVm } from '../../ios-bridge/conformance/node-runner.js';
import { NOTIFICATIONS, sealedHundred, type E2eSealer, type SealedHundred } from '../bench/bridge.js';
import { buildTempBundle } from './bundle.js';

/**
 * The bridge bench's raw baseline (test/bench/bridge-floor.ts) must do the real work it
 * stands for, or the floor it reports would be too low: it opens every relay body the
 * bridge bench feeds the core, authenticates it (a flipped byte throws), and is bundled
 * without nsekit's code beyond the byte helpers and the envelope's AAD.
 */
describe('bridge footprint floor (raw baseline)', () => {
  let tmp: Awaited<ReturnType<typeof buildTempBundle>>;
  let floorJs = '';
  let floorCode = '';
  let floorXJs = '';
  let t: SealedHundred;
  beforeAll(async () => {
    tmp = await buildTempBundle();
    floorJs = join(tmp.dir, 'floor.js');
    floorCode = (
      await buildBridge({ entry: fileURLToPath(new URL('../bench/bridge-floor.ts', import.meta.url)), outfile: floorJs, globalName: 'NsekitFloor' })
    ).code;
    floorXJs = join(tmp.dir, 'floor-xstate.js');
    await buildBridge({ entry: fileURLToPath(new URL('../bench/bridge-floor-xstate.ts', import.meta.url)), outfile: floorXJs, globalName: 'NsekitFloor' });
    t = sealedHundred(loadInVm(tmp.outfile).core as E2eSealer);
  });
  afterAll(() => tmp?.cleanup());

  const floor = (file = floorJs) => {
    const ctx = createContext({});
    runInContext(readFileSync(file, 'utf8'), ctx);
    return (ctx as { NsekitFloor: { run(t: SealedHundred, gc: () => void): number } }).NsekitFloor;
  };

  it('opens and re-seals every message the bench sends, one GC each', () => {
    let gcs = 0;
    expect(floor().run(t, () => gcs++)).toBe(NOTIFICATIONS);
    expect(gcs).toBe(NOTIFICATIONS);
  });

  it('with xstate: the same work, and the phase machine ends suspended (it throws otherwise)', () => {
    expect(floor(floorXJs).run(t, () => {})).toBe(NOTIFICATIONS);
    expect(readFileSync(floorXJs, 'utf8')).toContain('xstate.init');
  });

  it('authenticates: a tampered body throws instead of counting', () => {
    const bad = structuredClone(t);
    const m = bad.world.queues.q3![2]!;
    const c = m.body.charCodeAt(60);
    m.body = m.body.slice(0, 60) + String.fromCharCode(c === 65 ? 66 : 65) + m.body.slice(61);
    expect(() => floor().run(bad, () => {})).toThrow();
  });

  it('carries none of the core (no phase machine, no errors, no coordinator)', () => {
    expect(floorCode.length).toBeLessThan(tmp.code.length / 3);
    for (const s of ['suspending', 'CRYPTO_AUTH_FAILED', 'xstate.init']) {
      expect(tmp.code).toContain(s);
      expect(floorCode).not.toContain(s);
    }
  });
});
