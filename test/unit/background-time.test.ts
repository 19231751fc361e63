/**
 * The app's time in the background (src/core/session/app/background-time.ts) on the fast ports:
 * with no background task granted it suspends at once, so iOS's freeze after `noTaskMs` finds
 * nothing held; with a task it suspends itself after `appSuspendAfterMs` (20 s) when iOS's
 * expiration warning has not come first. Orderings only (virtual clock).
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_APP_SUSPEND_AFTER_MS, type SessionConfig } from '../../src/core/session/index.js';
import { FastHarness, val } from './fast-harness.js';

const idx = (h: FastHarness, pred: (o: { proc: string; f: string; value?: unknown }) => boolean) => h.indexOf(pred as never);

describe('background time', () => {
  it('no background task: the app suspends at once and the freeze at noTaskMs finds it holding nothing', async () => {
    const h = new FastHarness({ timeFactor: 0.01 });
    await h.start();
    h.rules.background(false);
    await h.run(() => h.ops('freeze').some((o) => val(o).why === 'no-task-over'), 60_000);
    const suspended = idx(h, (o) => o.proc === 'app' && o.f === 'suspended');
    const freeze = idx(h, (o) => o.f === 'freeze' && (o.value as { why?: string }).why === 'no-task-over');
    expect(suspended).toBeGreaterThan(-1);
    expect(suspended).toBeLessThan(freeze);
    expect(h.ops('suspended', 'app').map(val).at(-1)).toMatchObject({ lockHeld: false, storeOpen: false });
    expect(h.ops('expire')).toEqual([]); // no warning without a task
    expect(h.history.filter((o) => o.f === 'lock.held-at-freeze')).toEqual([]);
  });

  it('with a task: the app suspends itself after 20 s when the expiration warning has not come (budget 30 s)', async () => {
    const h = new FastHarness({ timeFactor: 1 });
    await h.start();
    // As the Node device configures its app (the simulator's worlds leave it to their budgets).
    (h.w.app!.p.rt.cfg as SessionConfig).appSuspendAfterMs = DEFAULT_APP_SUSPEND_AFTER_MS;
    h.rules.background();
    await h.run(() => h.ops('suspended', 'app').length > 0, 25_000);
    expect(h.ops('suspended', 'app').length).toBe(1);
    expect(h.ops('expire')).toEqual([]); // iOS's warning (30 s) had not come yet
    // Back in front: the limit does not apply to a later stay in the foreground.
    await h.settle(h.rules.foreground(true));
    const n = h.ops('suspended', 'app').length;
    await h.idle(25_000);
    expect(h.ops('suspended', 'app').length).toBe(n);
  });
});
