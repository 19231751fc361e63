import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { roleOf, runInNode, transcriptFiles, RUNNER, type Transcript } from '../../ios-bridge/conformance/node-runner.js';
import { findJsc, runJsc } from '../helpers/jsc.js';
import { buildTempBundle } from './bundle.js';

/**
 * Every recorded transcript replays call for call against its role's bundle
 * (nsekit-nse.js or nsekit-app.js), in Node (vm context) and in real
 * JavaScriptCore. Both engines replay the same file, so "ok" in both means the
 * two produce identical host-call sequences.
 */
const files = transcriptFiles();
const transcripts = files.map((f) => ({ file: f, t: JSON.parse(readFileSync(f, 'utf8')) as Transcript }));
let bundle: Awaited<ReturnType<typeof buildTempBundle>>;
/** Node's exact-sequence digest per transcript name, compared with jsc's. */
const nodeDigests = new Map<string, string>();

const bundles = () => ({ nse: bundle.outfile, app: bundle.app.outfile });
beforeAll(async () => {
  bundle = await buildTempBundle();
});
afterAll(() => bundle?.cleanup());

describe('conformance transcripts', () => {
  it('cover the required scenarios', () => {
    const names = transcripts.map((x) => x.t.name);
    for (const n of ['nse-full', 'two-notifications-one-queue', 'suspension-drain', 'nse-expiry', 'forced-delivery', 'device-locked', 'app-activation-yield', 'nse-push-after-yield', 'nse-yield-pending', 'app-wake-sub', 'nse-reuse-lock-unlock', 'nse-locked-start-unlock', 'locked-append-torn-tail', 'app-import-torn-tail']) {
      expect(names).toContain(n);
    }
    // Both bundles are exercised.
    expect(transcripts.filter((x) => roleOf(x.t) === 'app').length).toBeGreaterThanOrEqual(5);
    expect(names.filter((n) => n.startsWith('err-')).length).toBeGreaterThanOrEqual(10);
    for (const { t } of transcripts) expect(t.expected?.length, t.name).toBeGreaterThan(0);
  });

  describe('replay in Node (vm context)', () => {
    for (const { t } of transcripts) {
      it(t.name, async () => {
        const r = await runInNode(bundles(), t);
        expect(r.mismatch).toBeNull();
        expect(r.ok).toBe(true);
        expect(r.events.length).toBe(t.expected!.length);
        nodeDigests.set(t.name, r.digest);
      });
    }
  });

  const jsc = findJsc();
  if (!jsc) console.warn('[bridge] jsc not installed: JavaScriptCore replay SKIPPED (apt-get install libjavascriptcoregtk-4.0-bin)');
  // JIT on (jsc's default) and off (a third-party JSContext on iOS has no JIT).
  for (const flags of [[], ['--useJIT=false']]) describe.skipIf(!jsc)(`replay in real JavaScriptCore (jsc ${flags.join(' ') || 'default'})`, () => {
    let lines: { file: string; name: string; ok: boolean; count: number; digest: string; mismatch: unknown }[] = [];
    beforeAll(async () => {
      // One jsc per bundle, each with its role's transcripts.
      for (const [role, path] of Object.entries(bundles())) {
        const mine = transcripts.filter((x) => roleOf(x.t) === role).map((x) => x.file);
        const r = await runJsc([RUNNER], { flags, args: [path, ...mine], timeoutMs: 120_000 });
        expect(r.timedOut).toBe(false);
        expect(r.stdout.trim().split('\n').pop(), r.stdout + r.stderr).toBe('DONE');
        lines.push(...r.stdout.trim().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l)));
      }
    });
    for (const { file, t } of transcripts) {
      it(t.name, async () => {
        const l = lines.find((x) => x.file === file);
        expect(l, `no jsc result for ${t.name}`).toBeDefined();
        expect(l!.mismatch).toBeNull();
        expect(l!.ok).toBe(true);
        expect(l!.count).toBe(t.expected!.length);
        // Identical to Node byte for byte (log text included), not only equal to the transcript.
        const node = nodeDigests.get(t.name) ?? (await runInNode(bundles(), t)).digest;
        expect(l!.digest).toBe(node);
      });
    }
  });

  it('a torn inbox tail: the model closes the fragment before appending (it becomes one bad line) and the import counts it as torn', async () => {
    // Recorded afresh: the model answers (in replay the transcript does, and the model stays untouched).
    const nse = await runInNode(bundles(), structuredClone(transcripts.find((x) => x.t.name === 'locked-append-torn-tail')!.t), true);
    expect(nse.ok).toBe(true);
    expect(nse.model.inboxBad).toBe(1); // the fragment, closed by a newline: not glued to the new record
    expect(nse.model.inbox).toBe(3); // fragment + record + marker
    const app = transcripts.find((x) => x.t.name === 'app-import-torn-tail')!.t;
    const out = app.expected!.find((e) => e.out === 'protectedDataDidBecomeAvailable') as { value: { torn: number; inserted: number } };
    expect(out.value).toMatchObject({ torn: 1, inserted: 1 });
  });

  it('a divergent host is caught (replay of a tampered transcript fails at the changed call)', async () => {
    const t = structuredClone(transcripts.find((x) => x.t.name === 'nse-full')!.t);
    const i = t.expected!.findIndex((e) => e.fn === 'storePut');
    (t.expected![i] as { reply: { result: unknown } }).reply.result = false; // the host now says "duplicate"
    const r = await runInNode(bundles(), t);
    expect(r.ok).toBe(false);
    expect(r.mismatch!.index).toBeGreaterThan(i);
  });

  it('log calls match on time, level and tag; their wording is not part of the contract', async () => {
    const base = transcripts.find((x) => x.t.name === 'nse-full')!.t;
    const i = base.expected!.findIndex((e) => e.fn === 'log');
    expect(i).toBeGreaterThan(0);
    const reworded = structuredClone(base);
    (reworded.expected![i] as { args: string[] }).args[2] = 'reworded message';
    expect((await runInNode(bundles(), reworded)).ok).toBe(true);
    const retagged = structuredClone(base);
    (retagged.expected![i] as { args: string[] }).args[1] = 'other-tag';
    const r = await runInNode(bundles(), retagged);
    expect(r.ok).toBe(false);
    expect(r.mismatch!.index).toBe(i);
  });
});
