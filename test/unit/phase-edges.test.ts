import { afterEach, describe, expect, it } from 'vitest';
import { DRAIN_ORDER, NETWORK_CLASSES, type Failpoints, type Log } from '../../src/core/host.js';
import { isNsekitError } from '../../src/core/errors.js';
import { PhaseController, type PhaseHooks } from '../../src/core/phase/index.js';
import { SimClock, flush } from '../helpers/sim-clock.js';

/** Failpoints that pause at chosen names until the test releases them (like the simulator). */
function pausingFailpoints(pauseAt: (name: string, fields?: Record<string, unknown>) => boolean) {
  const seen: string[] = [];
  const paused: { name: string; release: () => void }[] = [];
  const fp: Failpoints = {
    hit(name, fields) {
      seen.push(`${name}:${String(fields?.cls ?? fields?.phase)}`);
      if (!pauseAt(name, fields)) return;
      return new Promise<void>((release) => paused.push({ name, release }));
    },
  };
  return { fp, seen, paused };
}
function manual() {
  let resolve!: () => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}
const silent: Log = { log() {} };

let ctl: PhaseController | undefined;
function make(hooks?: PhaseHooks, failpoints: Failpoints = { hit() {} }) {
  const clock = new SimClock();
  ctl = new PhaseController({ clock, log: silent, failpoints }, { proc: 'nse', hooks });
  return { ctl, clock };
}
afterEach(() => {
  ctl?.stop();
  ctl = undefined;
});

describe('PhaseController edge cases', () => {
  it('stop() rejects waiters with GATE_STOPPED; later calls reject too; in-flight ops still finish', async () => {
    const { ctl } = make();
    const inflight = manual();
    const running = ctl.run('sendNetwork', () => inflight.promise);
    ctl.background();
    let ran = false;
    const waiter = ctl.run('sendNetwork', () => void (ran = true)).catch((e: unknown) => e);
    ctl.stop();
    expect(isNsekitError(await waiter, 'GATE_STOPPED')).toBe(true);
    expect(ran).toBe(false);
    expect(isNsekitError(await ctl.run('database', () => 1).catch((e: unknown) => e), 'GATE_STOPPED')).toBe(true);
    expect(isNsekitError(await ctl.activate().catch((e: unknown) => e), 'GATE_STOPPED')).toBe(true);
    inflight.resolve();
    await running;
    expect(ctl.inFlight('sendNetwork')).toBe(0);
  });

  it('concurrent activate() calls share one activation; onActivate runs once', async () => {
    let n = 0;
    const gate = manual();
    const { ctl } = make({ onActivate: async () => (n++, await gate.promise) });
    await ctl.suspend(0);
    const a = ctl.activate();
    const b = ctl.activate();
    expect(ctl.phase).toBe('activating');
    gate.resolve();
    await Promise.all([a, b]);
    expect(n).toBe(1);
    expect(ctl.phase).toBe('active');
  });

  it('activate() while onSuspend runs waits for it, then reopens the store', async () => {
    const seq: string[] = [];
    const closing = manual();
    const { ctl } = make({
      onSuspend: async () => {
        seq.push('onSuspend start');
        await closing.promise;
        seq.push('onSuspend end');
      },
      onActivate: () => void seq.push('onActivate'),
    });
    ctl.on('suspended', () => seq.push('suspended'));
    const s = ctl.suspend(0);
    await flush();
    expect(ctl.phase).toBe('suspending');
    const a = ctl.activate();
    await flush();
    expect(seq).toEqual(['onSuspend start']);
    closing.resolve();
    await Promise.all([s, a]);
    expect(seq).toEqual(['onSuspend start', 'onSuspend end', 'suspended', 'onActivate']);
    expect(ctl.phase).toBe('active');
  });

  it('background() during activation ends in background: database open, network still blocked', async () => {
    const reopen = manual();
    const { ctl } = make({ onActivate: () => reopen.promise });
    await ctl.suspend(0);
    const a = ctl.activate();
    await flush();
    ctl.background();
    let netRan = false;
    const net = ctl.run('receiveNetwork', () => void (netRan = true));
    reopen.resolve();
    await a;
    expect(ctl.phase).toBe('background');
    expect(ctl.isBlocked('database')).toBe(false);
    for (const c of NETWORK_CLASSES) expect(ctl.isBlocked(c)).toBe(true);
    await flush();
    expect(netRan).toBe(false);
    await ctl.activate();
    await net;
    expect(netRan).toBe(true);
  });

  it('a failpoint pause at gate.blocked(database) holds the drain: onSuspend waits for the release', async () => {
    const seq: string[] = [];
    const { fp, paused } = pausingFailpoints((name, f) => name === 'gate.blocked' && f?.cls === 'database');
    const { ctl } = make({ onSuspend: () => void seq.push('onSuspend') }, fp);
    const s = ctl.suspend(10_000);
    await flush();
    expect(paused.map((p) => p.name)).toEqual(['gate.blocked']);
    expect(ctl.isBlocked('database')).toBe(true);
    // a DB op arriving during the pause waits; it does not slip in
    let dbRan = false;
    const db = ctl.run('database', () => void (dbRan = true), { timeoutMs: 60_000 });
    await flush();
    expect(seq).toEqual([]);
    expect(dbRan).toBe(false);
    paused[0]!.release();
    await s;
    expect(seq).toEqual(['onSuspend']);
    expect(dbRan).toBe(false);
    await ctl.activate();
    await db;
    expect(dbRan).toBe(true);
  });

  it('suspend(0) with a pause at gate.blocked: onSuspend waits for the release', async () => {
    const seq: string[] = [];
    const { fp, paused } = pausingFailpoints((name, f) => name === 'gate.blocked' && f?.cls === 'sendNetwork');
    const { ctl } = make({ onSuspend: () => void seq.push('onSuspend') }, fp);
    const s = ctl.suspend(0);
    await flush();
    expect(paused.length).toBe(1);
    for (const c of DRAIN_ORDER) expect(ctl.isBlocked(c)).toBe(true);
    expect(seq).toEqual([]);
    expect(ctl.phase).toBe('suspending');
    paused[0]!.release();
    await s;
    expect(seq).toEqual(['onSuspend']);
    expect(ctl.phase).toBe('suspended');
  });

  it('the failpoints are hit in order with their fields', async () => {
    const { fp, seen } = pausingFailpoints(() => false);
    const { ctl } = make({}, fp);
    ctl.background();
    await ctl.suspend(0);
    await ctl.activate();
    expect(seen).toEqual([
      'phase.enter:background',
      ...NETWORK_CLASSES.map((c) => `gate.blocked:${c}`),
      'phase.enter:suspending',
      'gate.blocked:database',
      'phase.enter:suspended',
      'phase.suspended:suspended',
      'phase.enter:activating',
      ...[...DRAIN_ORDER].reverse().map((c) => `gate.opened:${c}`),
      'phase.enter:active',
    ]);
  });

  it('onSuspend failure: suspend() rejects with it, the phase is still suspended with every class blocked', async () => {
    const boom = new Error('checkpoint failed');
    const { ctl } = make({ onSuspend: () => { throw boom; } });
    await expect(ctl.suspend(0)).rejects.toBe(boom);
    expect(ctl.phase).toBe('suspended');
    for (const c of DRAIN_ORDER) expect(ctl.isBlocked(c)).toBe(true);
  });

  it('onActivate failure: activate() rejects with it, back to suspended, waiters keep waiting', async () => {
    const boom = new Error('reopen failed');
    let fail = true;
    const { ctl } = make({ onActivate: () => { if (fail) throw boom; } });
    await ctl.suspend(0);
    let ran = false;
    const op = ctl.run('database', () => void (ran = true));
    await expect(ctl.activate()).rejects.toBe(boom);
    expect(ctl.phase).toBe('suspended');
    expect(ran).toBe(false);
    fail = false;
    await ctl.activate();
    await op;
    expect(ran).toBe(true);
  });

  it('a second suspend() with a shorter deadline tightens it; both calls resolve together', async () => {
    const { ctl, clock } = make();
    void ctl.run('sendNetwork', () => new Promise<void>(() => {}));
    const order: string[] = [];
    const a = ctl.suspend(25_000).then(() => order.push('a'));
    const b = ctl.suspend(1_000).then(() => order.push('b'));
    await clock.advance(1_000);
    await Promise.all([a, b]);
    expect(order).toEqual(['a', 'b']);
    expect(clock.now()).toBe(1_000);
    expect(ctl.phase).toBe('suspended');
    await ctl.suspend(5_000); // already suspended: resolves at once
    expect(clock.pending()).toBe(0);
  });

  it('suspend() during an activation waits for it, then suspends', async () => {
    const reopen = manual();
    const { ctl } = make({ onActivate: () => reopen.promise });
    await ctl.suspend(0);
    const a = ctl.activate();
    const s = ctl.suspend(0);
    await flush();
    expect(ctl.phase).toBe('activating');
    reopen.resolve();
    await Promise.all([a, s]);
    expect(ctl.phase).toBe('suspended');
  });

  it('a listener may call activate() from inside a blocked event', async () => {
    const { ctl } = make();
    const seq: string[] = [];
    let activation: Promise<void> | undefined;
    const off = ctl.on('blocked', (e) => {
      seq.push(`blocked:${e.cls}`);
      if (e.cls === 'sendNetwork') activation = ctl.activate();
    });
    ctl.on('opened', (e) => seq.push(`opened:${e.cls}`));
    ctl.on('phase', (e) => seq.push(`phase:${e.phase}`));
    ctl.on('activated', (e) => seq.push(`activated:${e.phase}`));
    void ctl.run('sendNetwork', () => new Promise<void>(() => {}));
    const s = ctl.suspend(30_000);
    await flush();
    await activation;
    await s;
    off();
    expect(seq).toEqual([
      'phase:suspending',
      'blocked:notificationNetwork',
      'blocked:receiveNetwork',
      'blocked:sendNetwork',
      'phase:activating',
      'opened:sendNetwork',
      'opened:receiveNetwork',
      'opened:notificationNetwork',
      'phase:active',
      'activated:active',
    ]);
    expect(ctl.phase).toBe('active');
    for (const c of DRAIN_ORDER) expect(ctl.isBlocked(c)).toBe(false);
  });

  it('waiters past their timeout are gone; the rest keep FIFO order across classes reopening', async () => {
    const { ctl, clock } = make();
    await ctl.suspend(0);
    const seq: string[] = [];
    const ops = [
      ctl.run('sendNetwork', () => void seq.push('send#1')),
      ctl.run('database', () => void seq.push('db#1'), { timeoutMs: 10 }).catch(() => seq.push('db#1 timeout')),
      ctl.run('database', () => void seq.push('db#2')),
      ctl.run('sendNetwork', () => void seq.push('send#2')),
    ];
    await clock.advance(10);
    await ctl.activate();
    await Promise.all(ops);
    expect(seq).toEqual(['db#1 timeout', 'db#2', 'send#1', 'send#2']);
  });
});
