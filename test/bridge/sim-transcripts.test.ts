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
 * catalogue scenario in fast mode with the NSE (`-nse`) or the app (`-app`) on its bridge bundle.
 * Re-recording one with its seed must give the checked-in file byte for byte, so a change in the
 * sessions (or the bundle) shows up as a transcript diff. conformance.test.ts replays them in Node
 * and jsc like the others.
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
      const role = t.name.endsWith('-app') ? 'app' : 'nse';
      expect(t.sim?.role, t.name).toBe(role);
      expect(t.config.role, t.name).toBe(role);
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

  it('the app: SUB deliveries and a dropped connection as host steps, the device locked mid-stream, imports after unlock, a tap', () => {
    type Step = { call?: string; host?: string; args?: unknown[]; body?: string };
    const steps = (name: string): Step[] => sims.find((x) => x.t.name === name)!.t.steps as Step[];
    type AppEv = Ev & { cb?: string; reply?: { result?: { records?: { msgId: string }[] } | null } };
    const app = (name: string): AppEv[] => events(name) as AppEv[];
    const names = sims.map((x) => x.t.name);
    for (const n of ['sim-device-locks-while-streaming-app', 'sim-app-activates-nse-mid-tx-app', 'sim-nse-reused-across-unlock-app']) expect(names).toContain(n);
    // Streaming: relay deliveries are `deliver` host steps carrying the relay's body, each one an onMessage callback.
    const stream = app('sim-device-locks-while-streaming-app');
    const delivers = steps('sim-device-locks-while-streaming-app').filter((s) => s.host === 'deliver');
    expect(delivers.length).toBeGreaterThan(1);
    expect(delivers.every((s) => typeof s.body === 'string')).toBe(true);
    expect(stream.filter((e) => e.cb === 'onMessage').length).toBe(delivers.length);
    // Locked mid-stream: deliveries go to the pending inbox; the unlock imports them into the store.
    const idx = (ev: AppEv[], p: (e: AppEv) => boolean) => ev.findIndex(p);
    const lock = idx(stream, (e) => e.out === 'protectedDataWillBecomeUnavailable');
    const append = idx(stream, (e) => e.fn === 'inboxAppend');
    const unlock = idx(stream, (e) => e.out === 'protectedDataDidBecomeAvailable');
    expect(lock).toBeGreaterThan(0);
    expect(append).toBeGreaterThan(lock);
    expect(unlock).toBeGreaterThan(append);
    const claimed = stream.find((e, i) => i > append && e.fn === 'inboxClaim' && (e.reply?.result?.records?.length ?? 0) > 0);
    expect(claimed).toBeDefined();
    // Launched unlocked: the key is in the config; the launch's wake asks a running NSE to yield first.
    const yieldApp = app('sim-app-activates-nse-mid-tx-app');
    expect(sims.find((x) => x.t.name === 'sim-app-activates-nse-mid-tx-app')!.t.config.masterKeyHex).toMatch(/^[0-9a-f]{64}$/);
    expect(idx(yieldApp, (e) => e.fn === 'lockRequestYield')).toBeLessThan(idx(yieldApp, (e) => e.fn === 'lockAcquire'));
    expect(yieldApp.some((e) => e.fn === 'storePut')).toBe(true);
    // The NSE inboxed a message while locked: the app's wake after the unlock imports it (claim → storePut → claim done).
    const reused = app('sim-nse-reused-across-unlock-app');
    const claim = idx(reused, (e) => e.fn === 'inboxClaim' && (e.reply?.result?.records?.length ?? 0) > 0);
    const id = reused[claim]!.reply!.result!.records![0]!.msgId;
    expect(idx(reused, (e) => e.fn === 'storePut' && (e.args?.[0] as { msgId?: string }).msgId === id)).toBeGreaterThan(claim);
    expect(idx(reused, (e) => e.fn === 'inboxClaimDone')).toBeGreaterThan(claim);
    // The relay restarted: a `close` host step is the connection's onClose, and the app connects again.
    const restart = app('sim-relay-restart-queued-app');
    expect(steps('sim-relay-restart-queued-app').some((s) => s.host === 'close')).toBe(true);
    const closed = idx(restart, (e) => e.cb === 'onClose');
    expect(closed).toBeGreaterThan(0);
    expect(restart.slice(closed).some((e) => e.fn === 'transportConnect')).toBe(true);
    // A tap: appDidBecomeActive(threadId), the wake's reason is `tap`.
    expect(steps('sim-tap-while-nse-mid-get-app').some((s) => s.call === 'appDidBecomeActive' && s.args?.[0] === 'q0')).toBe(true);
    expect(app('sim-tap-while-nse-mid-get-app').some((e) => e.fn === 'sessionEvent' && e.args?.[0] === 'wake' && (e.args[1] as { reason?: string }).reason === 'tap')).toBe(true);
    // The app registers the push token itself (config.pushToken): iOS's new token is registered at once; logout NDELs, login NSUBs again.
    const calls = (name: string) => app(name).filter((e) => e.fn === 'transportNsub' || e.fn === 'transportNdel').map((e) => [e.fn, ...(e.args ?? [])]);
    expect(steps('sim-token-change-push-in-flight-app').some((s) => s.call === 'pushTokenChanged' && s.args?.[0] === 'simtok2')).toBe(true);
    expect(calls('sim-token-change-push-in-flight-app')).toEqual([['transportNsub', 'q0', 'simtok2', 'ios', 'sim']]);
    expect(calls('sim-logout-while-nse-handles-push-app')).toEqual([['transportNdel', 'q0'], ['transportNsub', 'q0', 'simtok1', 'ios', 'sim']]);
    expect(steps('sim-logout-while-nse-handles-push-app').filter((s) => s.call === 'logout' || s.call === 'login').map((s) => s.call)).toEqual(['logout', 'login']);
    // Every app transcript ends quiescent: the user left and the background task expired.
    for (const x of sims.filter((s) => s.t.sim?.role === 'app')) expect((x.t.expected as Ev[]).at(-1)?.out, x.t.name).toBe('backgroundTaskWillExpire');
  });

  for (const x of sims) {
    it(`re-recording ${x.t.name} gives the checked-in file (seed ${x.t.sim?.seed})`, async () => {
      const { scenario: sc } = resolveScenario(x.t.sim!.scenario);
      const app = x.t.sim!.role === 'app';
      const r = await recordTranscript(sc, x.t.sim!.seed, { bundle: app ? bundle.app.outfile : bundle.outfile, role: app ? 'app' : 'nse' });
      expect(r.problems).toEqual([]);
      // Every invariant holds in both roles — the badge too (the store's read state is in the contract).
      expect([...r.run.harnessErrors, ...r.run.violations]).toEqual([]);
      expect(r.run.verdicts.filter((v) => v.valid !== true).map((v) => v.invariant)).toEqual([]);
      expect(r.run.verdicts.map((v) => v.invariant)).toContain('badge');
      // A scenario's `expect.hits` may name a failpoint inside the session code, which the bundle does
      // not reach (sim/bridge/sim-host.ts): then, and only then, the run is `unknown` rather than valid.
      if (r.run.valid !== true) {
        expect(app, 'the NSE runs are valid').toBe(true);
        expect(r.run.missingHits.length).toBeGreaterThan(0);
        expect(r.run.missingHits.every((h) => h.endsWith(':db.write.done'))).toBe(true);
      }
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

  it('the app: a fresh recording with another seed replays call for call in Node', async () => {
    const { scenario: sc } = resolveScenario('device-locks-while-streaming');
    const a = await recordTranscript(sc, 3, { bundle: bundle.app.outfile, role: 'app' });
    expect(a.problems).toEqual([]);
    const t = JSON.parse(transcriptJson(a.transcript!)) as Transcript;
    expect(t.steps.some((st) => st.host === 'deliver')).toBe(true);
    const back = await runInNode({ nse: bundle.outfile, app: bundle.app.outfile }, t);
    expect(back.mismatch).toBeNull();
    expect(back.events.length).toBe(a.transcript!.expected.length);
    expect(transcriptJson(a.transcript!)).not.toBe(sims.find((s) => s.t.name === 'sim-device-locks-while-streaming-app')!.text);
  });

  it('refuses runs the runner cannot replay: an NSE frozen with a timer due, an NSE killed mid-call', async () => {
    const frozen = scenario('nse-frozen-mid-push').background('app').expire('app').send({ count: 1 }).when('nse', 'net.get.ok').freeze('nse').wait(3000).thaw('nse').build();
    const f = await recordTranscript(frozen, 1, { bundle: bundle.outfile });
    expect(f.problems.join('\n')).toMatch(/fired at t=\d+ \(the process was frozen meanwhile\)/);
    const killed = scenario('nse-killed-mid-push').background('app').expire('app').send({ count: 1 }).when('nse', 'net.get.ok').kill('nse').build();
    const k = await recordTranscript(killed, 1, { bundle: bundle.outfile });
    expect(k.problems.join('\n')).toMatch(/the NSE was killed/);
  });

  it('the app: refuses what a host cannot replay (a background without a background task, the app killed and relaunched)', async () => {
    const noTask = scenario('app-no-task').send({ count: 1 }).background().wait(100).foreground().build();
    (noTask.steps[1] as { args?: Record<string, unknown> }).args = { task: false };
    const n = await recordTranscript(noTask, 1, { bundle: bundle.app.outfile, role: 'app' });
    expect(n.problems.join('\n')).toMatch(/lifecycle background without a background task has no facade call/);
    const killed = scenario('app-killed').send({ count: 1 }).kill('app').wait(100).foreground().build();
    const k = await recordTranscript(killed, 1, { bundle: bundle.app.outfile, role: 'app' });
    expect(k.problems.join('\n')).toMatch(/the app was launched 2 times/);
  });
});
