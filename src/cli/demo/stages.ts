import { refreshWindow, silentPushes, turnOnRefresh, writeInBackground } from './background-stages.js';
import type { Sent, Tracker } from './tracker.js';

export interface StageOptions {
  /** Say what happens (the normal demo) or stay quiet (chaos rounds). */
  narrate: boolean;
  /** Bound of each wait for a stage's messages or a process's answer. */
  waitMs: number;
  /** Prefix of the texts (chaos: the round), so every text is unique. */
  prefix?: string;
  /**
   * Also walk the app's background life (background-stages.ts): refresh on, a message written
   * in the app as it leaves, a refresh window, silent pushes until one is throttled. The normal
   * demo does; the chaos rounds do not (the gateway's hourly silent budget is spent once).
   */
  background?: boolean;
}

/**
 * One walk of the device through its life while the sender sends: foreground → background →
 * frozen → locked → unlocked and foreground again (docs/cli.md, `nsekit demo`). Every wait is
 * bounded and none throws: a process killed from outside is not waited for, a killed app is
 * relaunched by the next foreground (the device does it, as iOS does), a killed NSE by the
 * next push; whatever did not arrive in time is checked again by the verdict.
 */
export async function walk(t: Tracker, o: StageOptions): Promise<void> {
  const say = (l: string) => o.narrate && t.say(l);
  const d = t.d;
  const pids = () => `app pid ${d.app?.alive ? d.app.pid : '-'}, NSE pid ${d.nse?.alive ? d.nse.pid : '-'}`;
  const p = o.prefix ?? '';

  say(`-- foreground: the app receives over its subscriptions`);
  if (!(await foreground(t, o.waitMs))) say(`   the app did not report its wake within ${o.waitMs / 1000} s (going on)`);
  say(`   (${pids()})`);
  await t.arrive('foreground', await t.send('foreground', 0, 3, p), o.waitMs, !o.narrate);
  if (o.background) await turnOnRefresh(t, o);

  say(`-- background: sockets closed, pushes wake the NSE (${pids()})`);
  let app = d.app;
  let from = app?.events.length ?? 0;
  await d.appLifecycle('background');
  await t.procEvent(app, (e) => e.name === 'phase' && e.phase === 'background', from, o.waitMs);
  await t.arrive('background', await t.send('background', 1, 2, p), o.waitMs, !o.narrate);
  let written: Sent | null = null;
  if (o.background) written = await writeInBackground(t, o);

  say(`-- frozen: app suspended (store closed, lock released), then SIGSTOP (${pids()})`);
  app = d.app;
  from = app?.events.length ?? 0;
  await d.appLifecycle('suspend');
  // iOS freezes the app once it has suspended; an app that is gone (killed) has nothing to freeze.
  if (await t.procEvent(app, (e) => e.name === 'suspended', from, o.waitMs)) say(`   freeze app: ${d.freeze(app!)}`);
  else say(`   freeze app: ${app?.alive ? 'not suspended in time, left running' : 'not running'}`);
  await t.arrive('frozen', await t.send('frozen', 0, 2, p), o.waitMs, !o.narrate);
  if (o.background) {
    await refreshWindow(t, o, written);
    await silentPushes(t, o);
  }

  say(`-- locked: the key leaves memory, the NSE writes the pending inbox (${pids()})`);
  d.lock();
  const fromLocked = d.events.length;
  await t.arrive('locked', await t.send('locked', 1, 3, p), o.waitMs, !o.narrate);
  // Let the NSE finish (suspend) before the unlock, so the app, not the NSE, meets the inbox;
  // an NSE that is gone (killed) has nothing to finish.
  await t.until(() => !d.nse?.alive || d.events.slice(fromLocked).some((e) => e.role === 'nse' && e.name === 'suspended'), o.waitMs);

  say(`-- unlocked, foreground: the app imports the inbox, resyncs, resubscribes (${pids()})`);
  d.unlock();
  if (!(await foreground(t, o.waitMs))) say(`   the app did not report its wake within ${o.waitMs / 1000} s (going on)`);
  if (o.narrate && t.d.appLaunches > 1) say(`   (${pids()}; app launches: ${t.d.appLaunches})`);
  await t.arrive('foreground again', await t.send('foreground again', 0, 2, p), o.waitMs, !o.narrate);
}

/**
 * Bring the app to the front and wait (bounded) for its wake sequence: launched the first
 * time, relaunched by the device if it was killed, thawed if frozen. A launch that fails (the
 * process killed before `ready`) is said and left to the next foreground.
 */
export async function foreground(t: Tracker, waitMs: number): Promise<boolean> {
  const d = t.d;
  const before = d.events.length;
  try {
    if (!d.app) await d.launchApp();
    else await d.appLifecycle('active');
  } catch (e) {
    t.say(`   app launch failed: ${e instanceof Error ? e.message : String(e)}`);
    return false;
  }
  return t.until(() => d.events.slice(before).some((e) => e.role === 'app' && e.name === 'wake' && e.pid === d.app?.pid), waitMs);
}
