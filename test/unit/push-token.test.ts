import { describe, expect, it } from 'vitest';
import { TOKEN_REFRESH_MS, truncateToken } from '../../src/core/session/app/push-token.js';
import { FastHarness } from './fast-harness.js';

/**
 * The app session's push-token lifecycle (src/core/session/app/push-token.ts) on the fast mode's
 * in-memory ports (sim/fast/push-tokens.ts): no wall clock, every wait on the virtual clock.
 */
describe('app session: push token', () => {
  it('truncateToken keeps the first 6 characters', () => {
    expect(truncateToken('0123456789abcdef')).toBe('012345…');
    expect(truncateToken('abc')).toBe('abc');
  });

  it('a launch with the token already registered (and fresh) sends no NSUB', async () => {
    const f = new FastHarness({ queues: 2 });
    await f.start();
    await f.idle(100);
    expect(f.ops('nsub')).toEqual([]);
    expect(f.events('push-token')).toEqual([]);
  });

  it('a token change while in front registers it on every queue at once; the relay pushes to it', async () => {
    const f = new FastHarness({ queues: 2 });
    await f.start();
    const t = f.w.tokens.change();
    f.w.postAppCall(() => f.w.tokens.announce());
    expect(await f.run(() => f.events('push-token').length === 1)).toBe(true);
    expect(f.ops('nsub', 'app')).toHaveLength(2);
    expect(f.events('push-token')[0]).toMatchObject({ state: 'registered', token: truncateToken(t), reason: 'change', platform: 'ios', queues: 2 });
    expect(f.w.tokens.state.registered?.token).toBe(t);
    for (const q of f.w.queueIds) expect(f.w.tokens.target(q)).toBe(t);
  });

  it('a token change while suspended: the old token is refused (the message waits), the next wake registers the new one and fetches it', async () => {
    const f = new FastHarness({ queues: 1 });
    await f.start();
    await f.settle(f.w.postApp('suspend', { untilDone: true }));
    const t = f.w.tokens.change();
    f.w.postAppCall(() => f.w.tokens.announce());
    const id = f.sendGood(0, true);
    await f.idle(50);
    expect(f.history.some((o) => o.f === 'push.invalid-token')).toBe(true);
    expect(f.events('push-token')).toEqual([]); // not in front: nothing sent yet
    await f.settle(f.w.postApp('active', { untilDone: true }));
    expect(await f.run(() => f.w.relay.deleted.includes(id))).toBe(true);
    expect(f.events('push-token')).toHaveLength(1);
    expect(f.w.tokens.target(f.w.queueIds[0]!)).toBe(t);
  });

  it('logout: NDEL on every queue, no push, a wake fetches nothing; login registers and fetches what waited', async () => {
    const f = new FastHarness({ queues: 2 });
    const app = await f.start();
    await f.settle(app.logout());
    expect(f.ops('ndel', 'app')).toHaveLength(2);
    expect(f.events('push-token', (v) => v.state === 'deactivated')).toHaveLength(1);
    expect(f.w.tokens.state).toMatchObject({ loggedOut: true, deactivatePending: false, registered: null });
    const id = f.sendGood(1, true);
    await f.idle(100);
    expect(f.history.some((o) => o.f === 'push.no-token')).toBe(true);
    // In front but logged out: the wake (a relaunch's) fetches nothing.
    await f.settle(f.w.postApp('background', { untilDone: true }));
    await f.settle(f.w.postApp('active', { untilDone: true }));
    expect(f.events('wake', (v) => v.loggedOut === true).length).toBeGreaterThan(0);
    expect(f.w.relay.deleted).not.toContain(id);
    await f.settle(app.login());
    expect(await f.run(() => f.w.relay.deleted.includes(id))).toBe(true);
    expect(f.events('push-token', (v) => v.state === 'registered' && v.reason === 'change')).toHaveLength(1);
    expect(f.w.tokens.state.loggedOut).toBe(false);
    for (const q of f.w.queueIds) expect(f.w.tokens.target(q)).toBe(f.w.tokens.token);
  });

  it('a logout that cannot reach the relay stays owed and is sent at the next connect', async () => {
    const f = new FastHarness({ queues: 1 });
    const app = await f.start();
    f.w.relay.partitioned = true;
    f.w.relay.dropConnections();
    await f.settle(app.logout());
    expect(f.w.tokens.state).toMatchObject({ loggedOut: true, deactivatePending: true });
    expect(f.ops('ndel')).toEqual([]);
    f.w.relay.partitioned = false;
    await f.settle(f.w.postApp('active', { untilDone: true }));
    expect(await f.run(() => f.ops('ndel').length === 1)).toBe(true);
    expect(f.w.tokens.state.deactivatePending).toBe(false);
    expect(f.w.tokens.target(f.w.queueIds[0]!)).toBeNull();
  });

  it('an old registration with the same token is refreshed at the next launch (last seen)', async () => {
    const f = new FastHarness({ queues: 1 });
    f.w.tokens.state = { ...f.w.tokens.state, registered: { token: f.w.tokens.token, at: -TOKEN_REFRESH_MS } };
    await f.start();
    expect(f.ops('nsub', 'app')).toHaveLength(1);
    expect(f.events('push-token')[0]).toMatchObject({ state: 'registered', reason: 'launch' });
  });
});
