/**
 * The demo's background stages (docs/cli.md, `nsekit demo`; the rules are docs/processes.md
 * "Background windows"): the user turns background refresh on, writes a message in the app and
 * leaves it (the outbox holds it: no network in the background), iOS runs a refresh window that
 * sends it, then silent pushes for a queue wake the app (a window each: no GET, the message stays
 * at the relay) until the gateway throttles one (HTTP 429, iOS's hourly budget) and the sender's
 * visible fallback has the NSE fetch it. Every message is a row of the verdict like any other.
 * Waits are bounded and never throw, as in the walk (stages.ts).
 */
import { pushSilentOrVisible } from '../../relay/silent-push.js';
import type { StageOptions } from './stages.js';
import type { Sent, Tracker } from './tracker.js';

/** The gateway's hourly budget of silent pushes per token is 3 (iOS throttles the same way): the 4th is refused. */
const SILENT_BEFORE_THROTTLE = 3;

/** In front, with the app running: the user turns background refresh on (it submits its one request). */
export async function turnOnRefresh(t: Tracker, o: StageOptions): Promise<void> {
  const d = t.d;
  const app = d.app;
  const from = app?.events.length ?? 0;
  d.background.settings(true);
  const ok = await t.procEvent(app, (e) => e.name === 'bg-refresh' && e.state === 'scheduled', from, o.waitMs);
  say(t, o, `   background refresh turned on in Settings: ${ok ? 'the app submitted its refresh request' : 'no refresh request in time (going on)'}`);
}

/**
 * The app is in the background (not suspended): the user wrote a message just before leaving, the
 * app puts it in its outbox — 'sending', held until the app may use the network. It goes into the
 * app's own queue (World `appCanSend`), so it comes back to this device: the verdict's row.
 */
export async function writeInBackground(t: Tracker, o: StageOptions): Promise<Sent | null> {
  const d = t.d;
  const app = d.app;
  if (!app?.alive) {
    say(t, o, '   the app is not running: nothing written in the background');
    return null;
  }
  const q = t.w.queues[0]!;
  const label = `m${t.sent.length + 1}`;
  const s: Sent = { label, text: `${o.prefix ?? ''}written in the app #1`, stage: 'app send (bg)', queue: 0, msgId: '', fromApp: true };
  const clientId = `demo-app-${label}`;
  const from = app.events.length;
  app.send({ type: 'send', queueId: q.queueId, text: s.text, clientId });
  // 'sending' is reported once the outbox holds it durably: from then on it must arrive; an app
  // killed before that never saved it (the user sees no "sending…"), so it is no row.
  const queued = await t.procEvent(app, (e) => e.name === 'outbox' && e.clientId === clientId && e.state === 'sending', from, o.waitMs);
  if (!queued) {
    say(t, o, `   the user wrote "${s.text}" but the app did not queue it (${app.alive ? 'not in time' : 'the app is gone'}): not counted`);
    return null;
  }
  t.sent.push(s);
  const sentEarly = app.events.slice(from).some((e) => e.name === 'outbox' && e.clientId === clientId && e.state === 'sent');
  say(t, o, `   the user wrote "${s.text}" and left the app: in the outbox (sending…)${sentEarly ? ', but already sent' : ', held: no network in the background'}`);
  return s;
}

/** iOS runs the refresh task: the app drains its outbox (no GET), suspends, and is frozen again. */
export async function refreshWindow(t: Tracker, o: StageOptions, written: Sent | null): Promise<void> {
  const d = t.d;
  say(t, o, `-- refresh window: iOS wakes the suspended app for ~30 s; it sends its outbox, fetches nothing, suspends`);
  const from = d.events.length;
  const known = new Set(t.sent.map((s) => s.msgId).filter(Boolean));
  const outcome = await d.background.grant('refresh');
  const mine = d.events.slice(from).filter((e) => e.role === 'app');
  const sent = mine.filter((e) => e.name === 'outbox' && e.state === 'sent').length;
  const fetched = mine.filter((e) => e.name === 'sync').length;
  say(t, o, `   window: ${outcome}; outbox items sent: ${sent}; app fetches: ${fetched}; freeze app: ${freezeIfSuspended(t)}`);
  if (!written) return;
  // The relay pushes the app's message back to this device (its own queue): the NSE stores it.
  // Its id is the first new message stored on that queue since the window started.
  const qid = t.w.queues[written.queue]!.queueId;
  const found = await t.until(() => {
    const e = d.events.slice(from).find((x) => x.name === 'stored' && x.queueId === qid && !x.duplicate && typeof x.msgId === 'string' && !known.has(x.msgId));
    if (e) written.msgId = e.msgId as string;
    return !!e;
  }, o.waitMs);
  if (!found) t.late.push('refresh');
  say(t, o, found ? `   ${written.label} reached the relay and came back to the device (${routeOf(t, written)})` : `   ${written.label} not back on the device after ${o.waitMs / 1000} s (going on; the verdict checks again)`);
}

/**
 * A message for queue 1 sent without the notification flag (no visible push of its own), then
 * silent pushes for that queue: each a window for the app, which does not GET — the message stays
 * at the relay — until the gateway throttles one and the visible fallback has the NSE fetch it.
 */
export async function silentPushes(t: Tracker, o: StageOptions): Promise<void> {
  const d = t.d;
  const q = t.w.queues[1 % t.w.queues.length]!;
  say(t, o, `-- silent push: content-available pushes for a queue wake the app (a window, no GET); the throttled one falls back to a visible push (NSE)`);
  const [s] = await t.send('silent push', 1 % t.w.queues.length, 1, o.prefix, { notification: false });
  const push = () => pushSilentOrVisible(t.w.gateway.url, d.token, { queueId: q.queueId }, { nids: [{ notifierId: q.notifierId, sealed: '' }] });
  for (let i = 1; i <= SILENT_BEFORE_THROTTLE + 1; i++) {
    const from = d.events.length;
    const windowsBefore = d.background.silent.length;
    const r = await push();
    if (r === 'silent') {
      // The device hands it to the app as a window; wait for its outcome (bounded by the budget).
      await t.until(() => d.background.silent.length > windowsBefore, o.waitMs + 30_000);
      const outcome = d.background.silent[windowsBefore]?.outcome ?? 'no window in time';
      const gets = d.events.slice(from).filter((e) => e.role === 'app' && e.name === 'sync').length;
      say(t, o, `   silent push ${i}: ${outcome === 'done' ? 'window for the app' : `window ${outcome}`}; app fetches: ${gets}; ${s && t.arrived(s) ? `${s.label} on the device` : `${s?.label ?? 'the message'} still at the relay`}; freeze app: ${freezeIfSuspended(t)}`);
      continue;
    }
    say(t, o, `   silent push ${i}: ${r === 'fallback' ? 'throttled (429) → visible push sent instead' : `gateway answered ${r}`}`);
    break;
  }
  if (!s) return;
  const ok = await t.until(() => t.arrived(s), o.waitMs);
  if (!ok) t.late.push('silent push');
  say(t, o, ok ? `   ${s.label} fetched by the push (${routeOf(t, s)}); gateway throttled: ${t.w.gateway.stats().throttled}` : `   ${s.label} not on the device after ${o.waitMs / 1000} s (going on; the verdict checks again)`);
}

/** After a window iOS freezes the app again once it has suspended (as after the background task). */
function freezeIfSuspended(t: Tracker): string {
  const app = t.d.app;
  if (!app?.alive) return 'not running';
  if (app.stopped) return 'frozen';
  const last = [...app.events].reverse().find((e) => e.name === 'suspended' || e.name === 'phase');
  return last?.name === 'suspended' ? t.d.freeze(app) : 'not suspended, left running';
}

function routeOf(t: Tracker, s: Sent): string {
  const e = t.d.events.find((x) => (x.name === 'stored' || x.name === 'inboxed') && x.msgId === s.msgId);
  return e ? `${e.role} ${e.name}` : 'not yet stored';
}

function say(t: Tracker, o: StageOptions, line: string): void {
  if (o.narrate) t.say(line);
}
