import { afterEach, describe, expect, it } from 'vitest';
import { DRAIN_ORDER, NETWORK_CLASSES, type Failpoints, type Log, type OpClass } from '../../src/core/host.js';
import { isNsekitError } from '../../src/core/errors.js';
import { PhaseController, type PhaseHooks } from '../../src/core/phase/index.js';
import { SimClock, flush } from '../helpers/sim-clock.js';

interface LogLine { level: string; tag: string; msg: string; fields?: Record<string, unknown> }
function makeHost() {
  const clock = new SimClock();
  const lines: LogLine[] = [];
  const hits: { name: string; fields?: Record<string, unknown> }[] = [];
  const log: Log = { log: (level, tag, msg, fields) => void lines.push({ level, tag, msg, fields }) };
  const failpoints: Failpoints = { hit: (name, fields) => void hits.push({ name, fields }) };
  return { clock, log, failpoints, lines, hits };
}
/** An operation the test finishes by hand. */
function manual<T = string>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

let ctl: PhaseController | undefined;
function make(hooks?: PhaseHooks, defaultOpTimeoutMs?: number) {
  const h = makeHost();
  ctl = new PhaseController(h, { proc: 'app', hooks, ...(defaultOpTimeoutMs ? { defaultOpTimeoutMs } : {}) });
  return { ...h, ctl };
}
afterEach(() => {
  ctl?.stop();
  ctl = undefined;
});

describe('PhaseController', () => {
  it('an op of an open class starts synchronously inside run()', async () => {
    const { ctl } = make();
    let ran = false;
    const p = ctl.run('database', () => ((ran = true), 7));
    expect(ran).toBe(true);
    expect(await p).toBe(7);
    expect(ctl.inFlight('database')).toBe(0);
  });

  it('background: a new network op waits (not run), an in-flight one completes, the DB stays open; the waiter runs after activate', async () => {
    const { ctl, clock } = make();
    const inflight = manual();
    const first = ctl.run('receiveNetwork', () => inflight.promise);
    expect(ctl.inFlight('receiveNetwork')).toBe(1);

    ctl.background();
    expect(ctl.phase).toBe('background');
    for (const c of NETWORK_CLASSES) expect(ctl.isBlocked(c)).toBe(true);
    expect(ctl.isBlocked('database')).toBe(false);

    const order: string[] = [];
    const waiter = ctl.run('receiveNetwork', () => void order.push('waiter ran'));
    const waiter2 = ctl.run('receiveNetwork', () => void order.push('waiter2 ran'));
    await clock.advance(1_000);
    expect(order).toEqual([]);
    expect(ctl.waiting('receiveNetwork')).toBe(2);

    // the database class is open in background
    expect(await ctl.run('database', () => 'db ok')).toBe('db ok');

    inflight.resolve('net done');
    expect(await first).toBe('net done');
    expect(ctl.inFlight('receiveNetwork')).toBe(0);
    expect(order).toEqual([]); // still waiting: background blocks until activate

    await ctl.activate();
    await Promise.all([waiter, waiter2]);
    expect(order).toEqual(['waiter ran', 'waiter2 ran']); // FIFO
    expect(ctl.phase).toBe('active');
    expect(ctl.waiting('receiveNetwork')).toBe(0);
  });

  it('suspend drains in DRAIN_ORDER, the DB stays open for network ops, onSuspend runs after the DB drained and before suspended', async () => {
    const seq: string[] = [];
    const { ctl, hits } = make({
      onSuspend: () => {
        seq.push(`onSuspend(dbInFlight=${ctl.inFlight('database')},dbBlocked=${ctl.isBlocked('database')})`);
      },
    });
    ctl.on('blocked', (e) => seq.push(`blocked:${e.cls}`));
    ctl.on('suspended', (e) => seq.push(`suspended:${e.phase}`));
    const ops = new Map<OpClass, ReturnType<typeof manual<string>>>();
    const runs: Promise<unknown>[] = [];
    for (const cls of DRAIN_ORDER) {
      const m = manual();
      ops.set(cls, m);
      runs.push(
        ctl.run(cls, async () => {
          await m.promise;
          // A network op finishing mid-drain writes its result: the DB class must still be open.
          if (cls === 'receiveNetwork') await ctl.run('database', () => void seq.push('receive wrote to db'));
          seq.push(`done:${cls}`);
        }),
      );
    }
    const suspended = ctl.suspend(60_000);
    await flush();
    expect(ctl.phase).toBe('suspending');
    expect(seq).toEqual(['blocked:notificationNetwork']);

    // Finish in reverse order: the drain must not skip ahead of a class still in flight.
    for (const cls of [...DRAIN_ORDER].reverse().slice(0, 2)) ops.get(cls)!.resolve('');
    await flush();
    expect(seq).toEqual(['blocked:notificationNetwork', 'done:database', 'done:sendNetwork']);
    expect(ctl.isBlocked('receiveNetwork')).toBe(false);

    ops.get('receiveNetwork')!.resolve('');
    await flush();
    expect(seq.slice(3)).toEqual(['receive wrote to db', 'done:receiveNetwork']);
    expect(ctl.phase).toBe('suspending'); // notificationNetwork still in flight

    ops.get('notificationNetwork')!.resolve('');
    await suspended;
    await Promise.all(runs);
    expect(seq.slice(5)).toEqual([
      'done:notificationNetwork',
      'blocked:receiveNetwork',
      'blocked:sendNetwork',
      'blocked:database',
      'onSuspend(dbInFlight=0,dbBlocked=true)',
      'suspended:suspended',
    ]);
    expect(ctl.phase).toBe('suspended');
    expect(hits.filter((h) => h.name === 'gate.blocked').map((h) => h.fields?.cls)).toEqual([...DRAIN_ORDER]);
    expect(hits.filter((h) => h.name.startsWith('phase.')).map((h) => `${h.name}:${String(h.fields?.phase)}`)).toEqual([
      'phase.enter:suspending',
      'phase.enter:suspended',
      'phase.suspended:suspended',
    ]);
  });

  it('each class is blocked only after the previous one has drained', async () => {
    const seq: string[] = [];
    const { ctl } = make();
    ctl.on('blocked', (e) => seq.push(`blocked:${e.cls}`));
    const ops = DRAIN_ORDER.map((cls) => {
      const m = manual();
      const p = ctl.run(cls, async () => {
        await m.promise;
        seq.push(`done:${cls}`);
      });
      return { cls, m, p };
    });
    const suspended = ctl.suspend(60_000);
    for (const { m, p } of ops) {
      await flush();
      m.resolve('');
      await p;
    }
    await suspended;
    expect(seq).toEqual(DRAIN_ORDER.flatMap((c) => [`blocked:${c}`, `done:${c}`]));
  });

  it('a DB op started after suspend waits until activate; with a short timeout it rejects GATE_TIMEOUT and never ran', async () => {
    const seq: string[] = [];
    const { ctl, clock } = make({ onSuspend: () => void seq.push('onSuspend'), onActivate: () => void seq.push('onActivate') });
    ctl.on('opened', (e) => seq.push(`opened:${e.cls}`));
    await ctl.suspend(10_000);
    expect(ctl.phase).toBe('suspended');

    let shortRan = false;
    const short = ctl.run('database', () => void (shortRan = true), { timeoutMs: 500 });
    const shortResult = short.then(
      () => 'resolved',
      (e: unknown) => e,
    );
    const long = ctl.run('database', () => void seq.push('db op ran'));
    await clock.advance(499);
    expect(ctl.waiting('database')).toBe(2);
    await clock.advance(1);
    const err = await shortResult;
    expect(isNsekitError(err, 'GATE_TIMEOUT')).toBe(true);
    expect((err as { details?: Record<string, unknown> }).details).toMatchObject({ cls: 'database', phase: 'suspended', timeoutMs: 500 });
    expect(shortRan).toBe(false);
    expect(ctl.waiting('database')).toBe(1);

    await clock.advance(20_000);
    expect(seq).toEqual(['onSuspend']); // still waiting, long after: it never runs while suspended

    await ctl.activate();
    await long;
    expect(seq).toEqual(['onSuspend', 'onActivate', 'opened:database', 'db op ran', 'opened:sendNetwork', 'opened:receiveNetwork', 'opened:notificationNetwork']);
    expect(ctl.inFlight('database')).toBe(0);
  });

  it('the deadline forces suspension when a network op never finishes', async () => {
    const { ctl, clock, lines } = make();
    const events: string[] = [];
    ctl.on('suspended', () => events.push('suspended'));
    void ctl.run('receiveNetwork', () => new Promise<void>(() => {}));
    let resolved = false;
    const p = ctl.suspend(5_000).then(() => (resolved = true));
    await clock.advance(4_999);
    expect(ctl.phase).toBe('suspending');
    expect(ctl.isBlocked('database')).toBe(false);
    expect(resolved).toBe(false);
    await clock.advance(1);
    await p;
    expect(events).toEqual(['suspended']);
    expect(ctl.phase).toBe('suspended');
    for (const c of DRAIN_ORDER) expect(ctl.isBlocked(c)).toBe(true);
    const warn = lines.find((l) => l.level === 'warn' && l.tag === 'phase');
    expect(warn?.fields?.inFlight).toEqual({ receiveNetwork: 1 });
    expect(ctl.inFlight('receiveNetwork')).toBe(1);
  });

  it('suspend(0) is immediate: every class blocked at once, no time passes', async () => {
    const seq: string[] = [];
    const { ctl, clock } = make({ onSuspend: () => void seq.push('onSuspend') });
    ctl.on('blocked', (e) => seq.push(`blocked:${e.cls}`));
    ctl.on('suspended', () => seq.push('suspended'));
    void ctl.run('sendNetwork', () => new Promise<void>(() => {}));
    void ctl.run('database', () => new Promise<void>(() => {}));
    await ctl.suspend(0);
    expect(clock.now()).toBe(0);
    expect(seq).toEqual([...DRAIN_ORDER.map((c) => `blocked:${c}`), 'onSuspend', 'suspended']);
    expect(ctl.phase).toBe('suspended');
  });

  it('activate mid-drain cancels the drain; blocked classes reopen in reverse order; the store was never closed', async () => {
    const seq: string[] = [];
    const { ctl, clock } = make({ onSuspend: () => void seq.push('onSuspend'), onActivate: () => void seq.push('onActivate') });
    ctl.on('opened', (e) => seq.push(`opened:${e.cls}`));
    ctl.on('activated', (e) => seq.push(`activated:${e.phase}`));
    const nn = manual();
    const rn = manual();
    const d = manual();
    void ctl.run('notificationNetwork', () => nn.promise);
    const rp = ctl.run('receiveNetwork', () => rn.promise);
    const dp = ctl.run('sendNetwork', () => d.promise);
    const suspended = ctl.suspend(30_000);
    nn.resolve('');
    await flush();
    expect(ctl.isBlocked('receiveNetwork')).toBe(true);
    expect(ctl.isBlocked('sendNetwork')).toBe(false);

    await ctl.activate();
    await suspended; // superseded by activate
    expect(ctl.phase).toBe('active');
    expect(seq).toEqual(['opened:receiveNetwork', 'opened:notificationNetwork', 'activated:active']);

    // the cancelled drain does not continue, and its deadline is gone
    rn.resolve('');
    d.resolve('');
    await Promise.all([rp, dp]);
    await clock.advance(60_000);
    expect(ctl.phase).toBe('active');
    for (const c of DRAIN_ORDER) expect(ctl.isBlocked(c)).toBe(false);
    expect(seq).not.toContain('onSuspend');
  });

  it('activate after a full suspension runs onActivate, then opens the database first and the rest in reverse', async () => {
    const seq: string[] = [];
    const { ctl, hits } = make({ onActivate: () => void seq.push('onActivate') });
    await ctl.suspend(0);
    ctl.on('opened', (e) => seq.push(`opened:${e.cls}`));
    ctl.on('phase', (e) => seq.push(`phase:${e.phase}`));
    await ctl.activate();
    expect(seq).toEqual([
      'phase:activating',
      'onActivate',
      ...[...DRAIN_ORDER].reverse().map((c) => `opened:${c}`),
      'phase:active',
    ]);
    expect(hits.filter((h) => h.name === 'gate.opened').map((h) => h.fields?.cls)).toEqual([...DRAIN_ORDER].reverse());
  });

  it('errors thrown by fn propagate unchanged and counts return to 0', async () => {
    const { ctl } = make();
    const syncErr = new Error('sync boom');
    const asyncErr = new Error('async boom');
    await expect(ctl.run('database', () => { throw syncErr; })).rejects.toBe(syncErr);
    await expect(ctl.run('sendNetwork', async () => { throw asyncErr; })).rejects.toBe(asyncErr);
    // and through the waiting path
    ctl.background();
    const waiting = ctl.run('receiveNetwork', () => Promise.reject(asyncErr));
    await ctl.activate();
    await expect(waiting).rejects.toBe(asyncErr);
    for (const c of DRAIN_ORDER) {
      expect(ctl.inFlight(c)).toBe(0);
      expect(ctl.waiting(c)).toBe(0);
    }
  });
});
