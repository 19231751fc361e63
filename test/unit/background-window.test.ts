/**
 * The app's background windows (src/core/session/app/background-window.ts, refresh.ts) on the
 * fast ports: the refresh setting (off by default, one request, replaced never doubled), the
 * push-only window (outbox drained, no GET, no SUB, no yield request), the low-power poll
 * turning has_payload into a local notification without a download, the clean skips (locked,
 * disabled, relay unavailable, in front), and an expiration mid-drain that neither loses nor
 * duplicates an outbox item. Orderings and counts only (virtual clock).
 */
import { describe, expect, it } from 'vitest';
import { NsekitError } from '../../src/core/errors.js';
import { FastWindows } from '../../sim/fast/windows.js';
import { FastHarness, val } from './fast-harness.js';

/** Launch, bring to the front, then send to the background and let it settle (phase `background`). */
async function backgrounded(mode: 'instant' | 'low-power' = 'instant') {
  const h = new FastHarness({ mode, queues: 2 });
  const app = await h.start();
  const win = new FastWindows(h.w, h.rules);
  h.rules.background();
  await h.run(() => h.events('left-front', () => true, 'app').length > 0);
  return { h, app, win };
}

const windowEvents = (h: FastHarness, state?: string) => h.events('bg-window', (v) => state === undefined || v.state === state, 'app');
/** App GETs (history `get` ops of the app) from op index `from` on. */
const appGets = (h: FastHarness, from = 0) => h.history.slice(from).filter((o) => o.proc === 'app' && o.f === 'get');

describe('refresh task: the setting and the one request', () => {
  it('is off by default: a granted window skips (reason disabled), sends nothing and leaves the app suspended and frozen', async () => {
    const { h, app, win } = await backgrounded();
    expect(app.refresh.enabled).toBe(false);
    expect(h.events('bg-refresh', () => true, 'app')).toEqual([]); // never scheduled while off
    await h.settle(app.send('q0', 'queued in background', 'c1'));
    await h.settle(win.refresh());
    expect(windowEvents(h, 'skip')).toEqual([expect.objectContaining({ kind: 'refresh', reason: 'disabled' })]);
    expect(h.events('outbox', (v) => v.state === 'sent', 'app')).toEqual([]);
    expect(h.w.db.outbox.get('c1')?.state).not.toBe('sent');
  });

  it('turned on: scheduled once on leaving the front; every later submit replaces it (one request, replaced: true)', async () => {
    const { h, app, win } = await backgrounded();
    await h.settle(win.settings(true));
    for (let i = 0; i < 3; i++) {
      await h.settle(h.rules.foreground(true));
      h.rules.background();
      await h.run(() => h.events('left-front', () => true, 'app').length > i + 1);
    }
    const sched = h.events('bg-refresh', (v) => v.state === 'scheduled', 'app');
    expect(sched.length).toBe(4); // the toggle, then three departures from the front
    expect(sched.map((v) => v.replaced)).toEqual([false, true, true, true]);
    expect(new Set(sched.map((v) => v.id)).size).toBe(1);
    expect(app.refresh.scheduled).toBe(true);
    // Off again: cancelled, and a departure schedules nothing.
    await h.settle(win.settings(false));
    // The step does not wait for the app (a frozen one reads it when thawed): run until it has.
    await h.run(() => h.events('bg-refresh', (v) => v.state === 'cancelled', 'app').length > 0);
    expect(app.refresh.scheduled).toBe(false);
    expect(h.events('bg-refresh', (v) => v.state === 'cancelled', 'app').length).toBe(1);
  });
});

describe('refresh window: bounded push-only work', () => {
  it('drains the outbox, never GETs or SUBs or asks the NSE to yield, then suspends (store closed, lock free) and is frozen cleanly', async () => {
    const { h, app, win } = await backgrounded();
    await h.settle(win.settings(true));
    h.sendGood(0); // a message waiting at the relay: the window must not fetch it
    await h.settle(app.send('q1', 'written in background', 'c1'));
    expect(h.events('outbox', (v) => v.state === 'sent', 'app')).toEqual([]);
    const from = h.history.length;
    await h.settle(win.refresh());
    expect(h.events('outbox', (v) => v.state === 'sent' && v.clientId === 'c1', 'app').length).toBe(1);
    expect(appGets(h, from)).toEqual([]);
    expect(h.history.slice(from).filter((o) => o.proc === 'app' && (o.f === 'sub' || o.f === 'yield.request'))).toEqual([]);
    const end = windowEvents(h, 'end');
    expect(end).toEqual([expect.objectContaining({ kind: 'refresh', expired: false, sent: 1 })]);
    const susp = h.history.slice(from).filter((o) => o.proc === 'app' && o.f === 'suspended').map(val);
    expect(susp.at(-1)).toEqual({ lockHeld: false, storeOpen: false });
    expect(h.ops('freeze').map(val)).toContainEqual(expect.objectContaining({ proc: 'app', why: 'window-done' }));
    expect(h.history.filter((o) => o.f === 'lock.held-at-freeze')).toEqual([]);
    // The next request is submitted from the window (replacing none: the run consumed the last).
    expect(app.refresh.scheduled).toBe(true);
  });

  it('skips cleanly while the device is locked (keys unavailable): nothing sent, the app stays suspended', async () => {
    const { h, app, win } = await backgrounded();
    await h.settle(win.settings(true));
    await h.settle(app.send('q0', 'x', 'c1'));
    h.w.setDeviceLocked(true);
    await h.idle(10);
    await h.settle(win.refresh());
    expect(windowEvents(h, 'skip')).toEqual([expect.objectContaining({ reason: 'device_locked' })]);
    expect(h.events('outbox', (v) => v.state === 'sent', 'app')).toEqual([]);
    expect(h.w.app!.p.store.fileOpen).toBe(false);
  });

  it('skips cleanly when the relay is unreachable (reason relay_unavailable) and still suspends', async () => {
    const { h, app, win } = await backgrounded();
    await h.settle(win.settings(true));
    await h.settle(app.send('q0', 'x', 'c1'));
    h.w.relay.partitioned = true;
    h.w.relay.dropConnections();
    await h.settle(win.refresh());
    expect(windowEvents(h, 'end')).toEqual([expect.objectContaining({ reason: 'relay_unavailable', sent: 0 })]);
    expect(h.w.app!.p.phase.phase).toBe('suspended');
    expect(h.w.db.outbox.get('c1')?.state).not.toBe('sent');
  });

  it('in front: the window is skipped (reason in_front) and the app is left as it is', async () => {
    const h = new FastHarness();
    await h.start();
    const win = new FastWindows(h.w, h.rules);
    await h.settle(win.settings(true));
    await h.settle(win.refresh());
    expect(windowEvents(h, 'skip')).toEqual([expect.objectContaining({ reason: 'in_front' })]);
    expect(h.w.app!.p.phase.phase).toBe('active');
  });
});

describe('low-power mode in the background', () => {
  it('polls once per queue in the window; has_payload becomes a local notification, nothing is downloaded', async () => {
    const { h, app, win } = await backgrounded('low-power');
    await h.settle(win.settings(true));
    h.sendGood(0);
    const asked: string[] = [];
    app.poller.hasPayload = async (q) => (asked.push(q), q === 'q0');
    const from = h.history.length;
    await h.settle(win.refresh());
    expect(asked).toEqual(['q0', 'q1']); // once per queue: no periodic poll in background
    expect(h.events('local-notification', () => true, 'app')).toEqual([expect.objectContaining({ queueId: 'q0', reason: 'has_payload' })]);
    expect(appGets(h, from)).toEqual([]);
    expect(windowEvents(h, 'end')).toEqual([expect.objectContaining({ polled: 2, notified: 1 })]);
    await h.idle(5_000);
    expect(asked.length).toBe(2); // the poller did not start
  });
});

describe('expiration mid-drain', () => {
  it('an item whose SEND reached the relay but whose OK never came stays queued and is sent once later (deduped by clientId)', async () => {
    const { h, app, win } = await backgrounded();
    await h.settle(win.settings(true));
    for (const id of ['c1', 'c2', 'c3']) await h.settle(app.send('q1', `msg ${id}`, id));
    const t = h.w.app!.p.transport;
    const real = t.sendWithResult.bind(t);
    let hung = 0;
    let lose: (e: Error) => void = () => {};
    t.sendWithResult = async (q, body, flags, opts = {}) => {
      const r = await real(q, body, flags, opts);
      // c2 reaches the relay; its OK is not read before the window expires, then the request times out.
      if (opts.clientId === 'c2' && hung++ === 0) return new Promise<never>((_, reject) => (lose = reject));
      return r;
    };
    await h.settle(win.refresh(1_000));
    lose(new NsekitError('PROTO_TIMEOUT', 'no reply'));
    expect(windowEvents(h, 'expired').length).toBe(1);
    expect(windowEvents(h, 'end')).toEqual([expect.objectContaining({ expired: true, sent: 0 })]);
    expect(h.w.db.outbox.get('c1')?.state).toBe('sent');
    expect(h.w.db.outbox.get('c2')?.state).not.toBe('sent');
    expect(h.w.db.outbox.get('c3')?.state).not.toBe('sent'); // never started after the expiry
    expect(h.history.filter((o) => o.f === 'lock.held-at-freeze')).toEqual([]);
    // The user opens the app: the wake drains what is left; c2's resend is deduped by the relay.
    win.opened();
    await h.settle(h.rules.foreground(true));
    await h.run(() => h.events('outbox', (v) => v.state === 'sent', 'app').length >= 3);
    const stored = [...h.w.relay.queued(), ...h.w.relay.deleted.map((msgId) => ({ msgId, queueId: '' }))];
    const sends = h.ops('send', 'app').filter((o) => o.type === 'ok').map(val);
    expect(sends.filter((v) => v.clientId === 'c2').map((v) => v.duplicate)).toEqual([false, true]);
    expect(new Set(sends.map((v) => v.msgId)).size).toBe(3); // three messages at the relay, not four
    expect(stored.length).toBeGreaterThanOrEqual(3);
  });

  it('a send failure in the window is retried later, not lost', async () => {
    const { h, app, win } = await backgrounded();
    await h.settle(win.settings(true));
    await h.settle(app.send('q1', 'will fail once', 'c1'));
    const t = h.w.app!.p.transport;
    const real = t.sendWithResult.bind(t);
    let n = 0;
    t.sendWithResult = async (q, body, flags, opts = {}) => {
      if (n++ === 0) throw new NsekitError('PROTO_BUSY', 'rate limited');
      return real(q, body, flags, opts);
    };
    await h.settle(win.refresh());
    expect(h.events('outbox', (v) => v.state === 'retry', 'app').length).toBe(1);
    await h.settle(h.rules.foreground(true));
    await h.run(() => h.events('outbox', (v) => v.state === 'sent', 'app').length > 0);
    expect(h.events('outbox', (v) => v.state === 'sent' && v.clientId === 'c1', 'app').length).toBe(1);
  });
});
