import { readFileSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import vm from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { transcriptFiles } from '../../ios-bridge/conformance/node-runner.js';
import { buildTempBundle } from './bundle.js';

/**
 * ConformanceReplay.swift cannot run here (no Swift toolchain), so this runs its algorithm: the JS
 * helpers, asyncFns and recordOnly are read out of the Swift file verbatim; the Swift-side loop (virtual
 * clock, (at, seq) queue, steps scheduled before createCore, the scripted host's blocks, reply callbacks,
 * host steps) is transliterated line for line below. A vm context stands for the JSContext, and promise
 * jobs drain after every top-level call into it — what JavaScriptCore does when the outermost API call
 * returns. Keep the two in step when either changes.
 */
const SWIFT = readFileSync(new URL('../../ios-bridge/swift/ConformanceReplay.swift', import.meta.url), 'utf8');
const helperSource = SWIFT.split('helperSource = """')[1]!.split('"""')[0]!;
const list = (name: string) => [...SWIFT.match(new RegExp(`static let ${name} = \\[([^\\]]*)\\]`))![1]!.matchAll(/"(\w+)"/g)].map((m) => m[1]!);
const asyncFns = list('asyncFns');
const recordOnly = list('recordOnly');
const drain = () => new Promise<void>((r) => setImmediate(r));
const norm = (v: unknown): unknown => JSON.parse(JSON.stringify(v));

/* eslint-disable @typescript-eslint/no-explicit-any */
async function replay(src: string, t: any, split = false): Promise<string | null> {
  const ctx = vm.createContext({});
  vm.runInContext(src, ctx);
  const js = vm.runInContext(helperSource, ctx);
  const start = 1_800_000_000_000;
  let now = start, seq = 0, timerSeq = 0, mismatch: string | null = null;
  const expected: any[] = t.expected ?? [];
  const events: any[] = [];
  const queue: { at: number; seq: number; fire: () => void }[] = [];
  const timers = new Map<number, any>();
  let onClose: any = null, onEnd: any = null;
  const subs = new Map<string, any>();
  const emit = (ev: any) => {
    const e = { ...ev, t: now - start };
    const i = events.length; events.push(e);
    if (mismatch) return;
    const x = expected[i];
    if (!x) { mismatch = `extra ${i} ${JSON.stringify(e)}`; return; }
    const same = x.fn === 'log' && e.fn === 'log' ? x.t === e.t && x.args[0] === e.args[0] && x.args[1] === e.args[1] : isDeepStrictEqual(norm(x), norm(e));
    if (!same) mismatch = `event ${i}: expected ${JSON.stringify(x)}, got ${JSON.stringify(e)}`;
  };
  const schedule = (ms: number, fire: () => any) => { seq++; queue.push({ at: now + ms, seq, fire }); };
  const parse = (s: string) => JSON.parse(s);
  const plain = (v: unknown) => parse(js.plain(v));
  const current = () => (events.length < expected.length ? expected[events.length] : {});
  const omit = new Set<string>(t.world?.hostOmit ?? []);
  const h: any = vm.runInContext('({})', ctx);
  const set = (n: string, f: any) => { if (!omit.has(n)) h[n] = f; };
  set('now', () => { emit({ fn: 'now', args: [], ret: now }); return now; });
  set('setTimer', (ms: number, fire: any) => {
    const id = ++timerSeq; emit({ fn: 'setTimer', args: [ms], ret: id }); timers.set(id, fire);
    schedule(ms, () => { const f = timers.get(id); if (!f) return; timers.delete(id); emit({ timer: id }); f(); });
    return id;
  });
  set('clearTimer', (id: number) => { emit({ fn: 'clearTimer', args: [id] }); timers.delete(id); });
  set('randomHex', (n: number) => { const ret = current().ret ?? ''; emit({ fn: 'randomHex', args: [n], ret }); return ret; });
  set('lockYieldPending', () => {
    const x = current();
    if (x.throws) { emit({ fn: 'lockYieldPending', args: [], throws: x.throws }); throw vm.runInContext('(' + JSON.stringify(x.throws) + ')', ctx); }
    const ret = x.ret ?? null; emit({ fn: 'lockYieldPending', args: [], ret }); return ret;
  });
  for (const fn of recordOnly) set(fn, (...a: unknown[]) => emit({ fn, args: a.map(plain) }));
  for (const fn of asyncFns) set(fn, (...a: any[]) => {
    const done = a.pop();
    if (fn === 'transportConnect' && a.length >= 2) { onClose = a[0]; onEnd = a[1]; }
    if (fn === 'transportSubscribe' && a.length >= 2) subs.set(String(a[0]), a[1]);
    if (fn === 'transportUnsubscribe' && a.length) subs.delete(String(a[0]));
    const x = current();
    const r = x.fn === fn && x.reply ? x.reply : { err: { code: 'BRIDGE_HOST_ERROR', message: 'replay diverged' }, after: 1 };
    emit({ fn, args: a.map(plain), reply: r });
    if (r.throws) throw vm.runInContext('(' + JSON.stringify(r.throws) + ')', ctx);
    schedule(r.after ?? 0, () => {
      const after = () => { for (const c of r.cb ?? []) schedule(c.after ?? 0, () => callback(c)); };
      js.answer(done, JSON.stringify(r), after);
    });
  });
  const callback = (c: any) => {
    const target = c.cb === 'onMessage' ? subs.get(c.queueId) : c.cb === 'onClose' ? onClose : c.cb === 'onEnd' ? onEnd : null;
    if (!target) return;
    if (c.cb === 'onClose') { onClose = null; onEnd = null; }
    const args = c.args ?? [];
    emit(c.queueId !== undefined ? { cb: c.cb, queueId: c.queueId, args } : { cb: c.cb, args });
    js.invoke(target, JSON.stringify(args));
  };
  const hostStep = (s: any) => {
    if (s.host === 'deliver') {
      const f = subs.get(s.queueId); if (!f) return;
      const args = current().args ?? [];
      emit({ cb: 'onMessage', queueId: s.queueId, args }); js.invoke(f, JSON.stringify(args));
    } else if (s.host === 'close') {
      const f = onClose; if (!f) return;
      onClose = null; onEnd = null; emit({ cb: 'onClose', args: [] }); js.invoke(f, '[]');
    }
  };
  let core: any = null;
  (t.steps ?? []).forEach((s: any, i: number) => schedule(s.at ?? 0, () => {
    if (s.host) return hostStep(s);
    if (!core) return emit({ out: s.call, step: i, ok: false, error: { code: 'NO_CORE', message: 'createCore failed' } });
    if (split) return (async () => {
      // The old structure: the facade call and its `then` as two API calls, promise jobs drained between.
      let p: any; try { p = core[s.call](...JSON.parse(JSON.stringify(s.args ?? []))); } catch (e) { p = Promise.reject(e); }
      Promise.resolve(p).catch(() => {});
      await drain();
      Promise.resolve(p).then((v: unknown) => emit({ out: s.call, step: i, ok: true, value: plain(v) }), (e: any) => emit({ out: s.call, step: i, ok: false, error: parse(js.errOut(e)) }));
    })();
    js.step(core, s.call, JSON.stringify(s.args ?? []), (v: string) => emit({ out: s.call, step: i, ok: true, value: parse(v) }), (e: string) => emit({ out: s.call, step: i, ok: false, error: parse(e) }));
  }));
  const c = js.create(ctx.NsekitCore, h, JSON.stringify(t.config ?? {}), (ok: boolean, e: string) => emit(ok ? { out: 'createCore', ok: true } : { out: 'createCore', ok: false, error: parse(e) }));
  core = c === null ? null : c;
  await drain();
  let n = 0;
  while (!mismatch && n < 200_000 && queue.length) {
    let bi = 0;
    for (let i = 1; i < queue.length; i++) if (queue[i]!.at < queue[bi]!.at || (queue[i]!.at === queue[bi]!.at && queue[i]!.seq < queue[bi]!.seq)) bi = i;
    const next = queue.splice(bi, 1)[0]!;
    n++;
    now = Math.max(now, next.at);
    await next.fire();
    await drain();
  }
  if (!mismatch && events.length !== expected.length) mismatch = `ended after ${events.length} of ${expected.length}`;
  return mismatch;
}


const transcripts = transcriptFiles().map((f) => JSON.parse(readFileSync(f, 'utf8')));
let srcs: Record<string, string>;
let cleanup: () => void = () => {};
beforeAll(async () => {
  const b = await buildTempBundle();
  srcs = { nse: readFileSync(b.outfile, 'utf8'), app: readFileSync(b.app.outfile, 'utf8') };
  cleanup = b.cleanup;
});
afterAll(() => cleanup());
const role = (t: any) => (t.config?.role === 'app' ? 'app' : 'nse');

describe('ConformanceReplay.swift (its helpers and loop, in a vm context) replays every transcript', () => {
  it('covers both roles', () => {
    expect(transcripts.filter((t) => role(t) === 'app').length).toBeGreaterThanOrEqual(9);
    expect(asyncFns).toContain('transportNsub');
    expect(recordOnly).toContain('pushTokenSave');
  });
  for (const t of transcripts) {
    it(t.name, async () => {
      expect(await replay(srcs[role(t)]!, t)).toBeNull();
    });
  }
  it('one call into JS per event matters: a facade call and its `then` made as two calls diverge', async () => {
    const diverged: string[] = [];
    for (const t of transcripts) if ((await replay(srcs[role(t)]!, t, true)) !== null) diverged.push(t.name);
    expect(diverged.length).toBeGreaterThan(0);
  });
});
