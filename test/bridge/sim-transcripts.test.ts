import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runInNode, transcriptFiles, type Transcript } from '../../ios-bridge/conformance/node-runner.js';
import { recordTranscript, transcriptJson } from '../../sim/bridge/record-transcript.js';
import { resolveScenario } from '../../sim/cli/resolve.js';
import { scenario } from '../../sim/scenario/index.js';
import { buildTempBundle } from './bundle.js';

/**
 * The sim-* conformance transcripts come from the simulator (sim/bridge/record-transcript.ts): a
 * catalogue scenario in fast mode with the NSE on the bridge bundle. Re-recording one with its
 * seed must give the checked-in file byte for byte, so a change in the sessions (or the bundle)
 * shows up as a transcript diff. conformance.test.ts replays them in Node and jsc like the others.
 */
const sims = transcriptFiles()
  .filter((f) => basename(f).startsWith('sim-'))
  .map((f) => ({ file: f, text: readFileSync(f, 'utf8'), t: JSON.parse(readFileSync(f, 'utf8')) as Transcript }));
let bundle: Awaited<ReturnType<typeof buildTempBundle>>;
beforeAll(async () => {
  bundle = await buildTempBundle();
});
afterAll(() => bundle?.cleanup());

type Ev = { fn?: string; out?: string; args?: unknown[]; value?: { status?: string }; t: number };
const events = (name: string): Ev[] => sims.find((x) => x.t.name === name)!.t.expected as Ev[];

describe('conformance transcripts recorded from the simulator', () => {
  it('cover a push after a yield, the device locked, and an NSE reused across unlock', () => {
    const names = sims.map((x) => x.t.name);
    expect(names.length).toBeGreaterThanOrEqual(3);
    for (const n of ['sim-nse-push-after-yield-nse', 'sim-refresh-while-locked-nse', 'sim-nse-reused-across-unlock-nse']) expect(names).toContain(n);
    for (const { t } of sims) {
      expect(t.sim?.role, t.name).toBe('nse');
      expect(t.config.role, t.name).toBe('nse');
      expect(t.expected?.length, t.name).toBeGreaterThan(0);
    }
    // Locked: the message went to the pending inbox, generic content.
    const locked = events('sim-refresh-while-locked-nse');
    expect(locked.some((e) => e.fn === 'inboxAppend')).toBe(true);
    expect(locked.some((e) => e.fn === 'storePut')).toBe(false);
    expect(locked.find((e) => e.out === 'didReceiveNotification')?.value?.status).toBe('locked');
    // The yield: the app came to the front while the NSE worked.
    expect(events('sim-nse-push-after-yield-nse').some((e) => e.out === 'yieldRequested')).toBe(true);
  });

  it('an NSE that started locked and is reused after unlock stores the new message (not the inbox)', () => {
    const ev = events('sim-nse-reused-across-unlock-nse');
    const t = sims.find((x) => x.t.name === 'sim-nse-reused-across-unlock-nse')!.t;
    expect(t.config.masterKeyHex).toBeUndefined(); // launched locked
    const idx = (p: (e: Ev) => boolean) => ev.findIndex(p);
    const append = idx((e) => e.fn === 'inboxAppend');
    const unlock = idx((e) => e.out === 'protectedDataDidBecomeAvailable');
    const put = idx((e) => e.fn === 'storePut');
    expect(append).toBeGreaterThan(0);
    expect(unlock).toBeGreaterThan(append);
    expect(put).toBeGreaterThan(unlock);
    expect(ev.filter((e) => e.fn === 'inboxAppend')).toHaveLength(1); // the second message is not inboxed
    const outs = ev.filter((e) => e.out === 'didReceiveNotification').map((e) => e.value?.status);
    expect(outs).toEqual(['locked', 'complete']);
    // The same process: one createCore.
    expect(ev.filter((e) => e.out === 'createCore')).toHaveLength(1);
  });

  for (const x of sims) {
    it(`re-recording ${x.t.name} gives the checked-in file (seed ${x.t.sim?.seed})`, async () => {
      const { scenario: sc } = resolveScenario(x.t.sim!.scenario);
      const r = await recordTranscript(sc, x.t.sim!.seed, { bundle: bundle.outfile });
      expect(r.problems).toEqual([]);
      expect(r.run.valid).toBe(true);
      expect(transcriptJson(r.transcript!)).toBe(x.text);
    });
  }

  it('a fresh recording replays call for call; a different seed is a different transcript', async () => {
    const { scenario: sc } = resolveScenario('nse-reused-across-unlock');
    const a = await recordTranscript(sc, 3, { bundle: bundle.outfile });
    expect(a.problems).toEqual([]);
    const back = await runInNode({ nse: bundle.outfile, app: bundle.app.outfile }, JSON.parse(transcriptJson(a.transcript!)) as Transcript);
    expect(back.mismatch).toBeNull();
    expect(back.events.length).toBe(a.transcript!.expected.length);
    // Keys and nonces come from the seed: the checked-in seed-1 file differs.
    expect(transcriptJson(a.transcript!)).not.toBe(sims.find((s) => s.t.name === 'sim-nse-reused-across-unlock-nse')!.text);
  });

  it('refuses runs the runner cannot replay: an NSE frozen with a timer due, an NSE killed mid-call', async () => {
    const frozen = scenario('nse-frozen-mid-push').background('app').expire('app').send({ count: 1 }).when('nse', 'net.get.ok').freeze('nse').wait(3000).thaw('nse').build();
    const f = await recordTranscript(frozen, 1, { bundle: bundle.outfile });
    expect(f.problems.join('\n')).toMatch(/fired at t=\d+ \(the process was frozen meanwhile\)/);
    const killed = scenario('nse-killed-mid-push').background('app').expire('app').send({ count: 1 }).when('nse', 'net.get.ok').kill('nse').build();
    const k = await recordTranscript(killed, 1, { bundle: bundle.outfile });
    expect(k.problems.join('\n')).toMatch(/the NSE was killed/);
  });
});
