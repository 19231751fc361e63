/**
 * QueueCoordinator with a phase gate: one receive (GET until ACK/release/empty/
 * error/hold timeout) is ONE receiveNetwork operation, so a suspension or
 * background() that starts between a GET and its ACK lets that ACK through
 * (in-flight work drains) while a new GET waits (new work is blocked).
 * Most tests use the real PhaseController on a SimClock.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { QueueCoordinator, type GetResult } from '../../src/core/queue/index.js';
import { isNsekitError } from '../../src/core/errors.js';
import type { Gate, OpClass } from '../../src/core/host.js';
import { PhaseController } from '../../src/core/phase/index.js';
import { SimClock, flush } from '../helpers/sim-clock.js';
import { FakeRelay, deferred, memoryLog, recordingFailpoints, type Events } from '../helpers/fakes.js';

const body = (s: string) => new Uint8Array([...s].map((c) => c.charCodeAt(0)));

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'resolved';
  } catch (e) {
    return isNsekitError(e) ? e.code : `other: ${String(e)}`;
  }
}

let phase: PhaseController | undefined;
afterEach(() => {
  phase?.stop();
  phase = undefined;
});

/** Real PhaseController + QueueCoordinator sharing one SimClock and one events list. */
function withPhase(opts: { holdTimeoutMs?: number; defaultOpTimeoutMs?: number } = {}) {
  const events: Events = [];
  const clock = new SimClock();
  const relay = new FakeRelay(events);
  const host = { clock, log: memoryLog(), failpoints: recordingFailpoints() };
  const ph = new PhaseController(host, {
    proc: 'nse',
    hooks: { onSuspend: () => void events.push('onSuspend') },
    ...(opts.defaultOpTimeoutMs ? { defaultOpTimeoutMs: opts.defaultOpTimeoutMs } : {}),
  });
  phase = ph;
  ph.on('suspended', () => void events.push('suspended'));
  const qc = new QueueCoordinator(host, relay.transport(), { gate: ph, holdTimeoutMs: opts.holdTimeoutMs ?? 30_000 });
  const relayOps = () => events.filter((e) => /^relay\.(get|ack)|^(background|activate|suspended|db write)/.test(e));
  return { events, clock, relay, phase: ph, qc, relayOps };
}

describe('QueueCoordinator + gate: one receiveNetwork op per receive', () => {
  it('GET..ACK is one gate op: open from the GET until the ACK, failpoints in order', async () => {
    const classes: OpClass[] = [];
    let inFlight = 0;
    const gate: Gate = {
      run: async (cls, fn) => {
        classes.push(cls);
        inFlight++;
        try {
          return await fn();
        } finally {
          inFlight--;
        }
      },
    };
    const relay = new FakeRelay();
    const failpoints = recordingFailpoints();
    const qc = new QueueCoordinator({ clock: new SimClock(), log: memoryLog(), failpoints }, relay.transport(), { gate });
    relay.send('q1', body('a'));
    relay.send('q1', body('b'));
    const r = (await qc.getMessage('q1'))!;
    expect(inFlight).toBe(1); // the receive is still in flight between GET and ACK
    await r.ack();
    expect(inFlight).toBe(0); // ack() resolves after the op left the gate
    expect(classes).toEqual(['receiveNetwork']); // the ACK is not a second gate op
    expect(failpoints.hits).toEqual(['queue.slot.acquired', 'net.get.sent', 'net.get.ok', 'net.ack.sent', 'net.ack.ok', 'queue.slot.released']);

    // release() and an empty GET end the op too.
    const r2 = (await qc.getMessage('q1'))!;
    expect(inFlight).toBe(1);
    r2.release();
    await flush();
    expect(inFlight).toBe(0);
    (await qc.getMessage('q1'))!.release();
    await qc.getMessage('q9');
    await flush();
    expect(inFlight).toBe(0);
    expect(classes).toEqual(['receiveNetwork', 'receiveNetwork', 'receiveNetwork', 'receiveNetwork']);
  });

  it('a blocked gate holds the GET (it waits, it does not fail)', async () => {
    const open = deferred();
    const gate: Gate = { run: async (_c, fn) => (await open.promise, fn()) };
    const events: Events = [];
    const relay = new FakeRelay(events);
    const qc = new QueueCoordinator({ clock: new SimClock(), log: memoryLog(), failpoints: recordingFailpoints() }, relay.transport(), { gate });
    relay.send('q1', body('a'));
    const p = qc.getMessage('q1');
    await flush();
    expect(events.some((e) => e.startsWith('relay.get'))).toBe(false);
    open.resolve();
    const r: GetResult = (await p)!;
    expect(r.msg.msgId).toBe('m1');
    r.release();
  });

  it('GET in active, then background(): the ACK completes at the relay before activation; a new GET waits', async () => {
    const { events, clock, relay, phase, qc, relayOps } = withPhase();
    relay.send('q1', body('a'));
    relay.send('q2', body('b'));
    const r = (await qc.getMessage('q1'))!;
    expect(phase.inFlight('receiveNetwork')).toBe(1);
    phase.background();
    events.push('background');
    // A new GET (other queue) queues at the closed class; the ACK must not queue behind it.
    const next = qc.getMessage('q2');
    await flush();
    expect(phase.waiting('receiveNetwork')).toBe(1);
    const acked = r.ack().then(() => void events.push('ack resolved'));
    await clock.advance(1_000);
    expect(events).toContain('ack resolved');
    expect(relay.acked).toEqual(['m1']);
    expect(phase.inFlight('receiveNetwork')).toBe(0);
    await acked;
    expect(phase.phase).toBe('background');
    // The new GET has not reached the relay.
    expect(events.filter((e) => e.startsWith('relay.get'))).toEqual(['relay.get q1 m1']);
    events.push('activate');
    await phase.activate();
    const r2 = (await next)!;
    expect(r2.msg.msgId).toBe('m2');
    await r2.ack();
    expect(relayOps()).toEqual(['relay.get q1 m1', 'background', 'relay.ack q1 m1', 'activate', 'relay.get q2 m2', 'relay.ack q2 m2']);
  });

  it('suspend(deadline) waits for an in-flight GET..ACK: the DB stays open for its write, suspended comes after the ACK', async () => {
    const { events, clock, relay, phase, qc, relayOps } = withPhase();
    relay.send('q1', body('a'));
    relay.send('q1', body('b'));
    const r = (await qc.getMessage('q1'))!;
    const suspending = phase.suspend(10_000);
    await clock.advance(1_000);
    expect(phase.phase).toBe('suspending');
    expect(events).not.toContain('suspended');
    expect(phase.isBlocked('receiveNetwork')).toBe(true);
    // The write of this receive: the database class is drained only after receiveNetwork.
    expect(phase.isBlocked('database')).toBe(false);
    await phase.run('database', () => void events.push('db write'));
    await r.ack();
    await suspending;
    expect(phase.phase).toBe('suspended');
    expect(relayOps()).toEqual(['relay.get q1 m1', 'db write', 'relay.ack q1 m1', 'suspended']);
    expect(events.indexOf('onSuspend')).toBeGreaterThan(events.indexOf('relay.ack q1 m1'));
    // A GET after the suspension waits for activation.
    const later = qc.getMessage('q1');
    await clock.advance(1_000);
    expect(events.filter((e) => e.startsWith('relay.get'))).toEqual(['relay.get q1 m1']);
    await phase.activate();
    const r2 = (await later)!;
    expect(r2.msg.msgId).toBe('m2');
    r2.release();
  });

  it('a drain never blocks the database under a receive in flight: writes started late in the drain run, database is blocked only after the ACK', async () => {
    // Explore seed 7 run 34 looked like a receive waiting on a database class its own drain had
    // blocked; it was the deadline (below). Without one, the ordered drain cannot do that.
    const { events, clock, relay, phase, qc } = withPhase();
    phase.on('blocked', (e) => void events.push(`blocked ${e.cls}`));
    relay.send('q1', body('a'));
    const r = (await qc.getMessage('q1'))!;
    phase.background();
    const suspending = phase.suspend(10_000);
    await phase.run('database', () => void events.push('db write putMessage'));
    await clock.advance(5_000); // e.g. waiting for the lock between the two writes
    expect(phase.isBlocked('database')).toBe(false);
    await phase.run('database', () => void events.push('db write markNotified'));
    await r.ack();
    await suspending;
    const seen = events.filter((e) => /^relay\.(get|ack)|^db write|^blocked (receiveNetwork|database)|^onSuspend|^suspended/.test(e));
    expect(seen).toEqual([
      'relay.get q1 m1',
      'blocked receiveNetwork',
      'db write putMessage',
      'db write markNotified',
      'relay.ack q1 m1',
      'blocked database',
      'onSuspend',
      'suspended',
    ]);
    expect(phase.waiting('database')).toBe(0);
  });

  it('the deadline blocks the database under a receive whose write already passed the gate: that write still completes, no op waits at the gate', async () => {
    const { events, clock, relay, phase, qc } = withPhase();
    phase.on('blocked', (e) => void events.push(`blocked ${e.cls}`));
    relay.send('q1', body('a'));
    const r = (await qc.getMessage('q1'))!;
    const lock = deferred<void>();
    // markNotified past its gate, waiting for the lock (run 34: held at lock.acquire.start).
    const write = phase.run('database', async () => {
      await lock.promise;
      events.push('db write markNotified');
    });
    const suspending = phase.suspend(1_000);
    await clock.advance(1_000);
    expect(phase.isBlocked('database')).toBe(true);
    expect(phase.inFlight('database')).toBe(1);
    expect(phase.waiting('database')).toBe(0);
    lock.resolve();
    await write;
    await suspending;
    expect(events.filter((e) => /^db write|^blocked database|^onSuspend/.test(e))).toEqual([
      'blocked database',
      'onSuspend',
      'db write markNotified',
    ]);
    r.release();
  });

  it('the suspend deadline still forces past a receive that never ACKs; the hold timeout then frees the slot without ACK', async () => {
    const { events, clock, relay, phase, qc } = withPhase({ holdTimeoutMs: 5_000 });
    relay.send('q1', body('a'));
    const r = (await qc.getMessage('q1'))!;
    const suspending = phase.suspend(2_000);
    await clock.advance(2_000);
    await suspending;
    expect(phase.phase).toBe('suspended');
    expect(phase.inFlight('receiveNetwork')).toBe(1); // forced past, still counted
    await clock.advance(3_000);
    expect(phase.inFlight('receiveNetwork')).toBe(0);
    expect(qc.busy('q1')).toBe(false);
    expect(await codeOf(r.ack())).toBe('QUEUE_SLOT_EXPIRED');
    expect(relay.acked).toEqual([]);
    expect(relay.pending('q1').map((m) => m.msgId)).toEqual(['m1']);
    expect(events.filter((e) => e.startsWith('relay.ack'))).toEqual([]);
  });

  it('a GET waiting at the closed class whose slot expires never reaches the relay (QUEUE_SLOT_EXPIRED after reopening)', async () => {
    const { events, clock, relay, phase, qc } = withPhase({ holdTimeoutMs: 1_000 });
    relay.send('q1', body('a'));
    phase.background();
    const waiting = codeOf(qc.getMessage('q1'));
    await clock.advance(1_000);
    expect(qc.busy('q1')).toBe(false);
    await phase.activate();
    expect(await waiting).toBe('QUEUE_SLOT_EXPIRED');
    expect(events.filter((e) => e.startsWith('relay.get'))).toEqual([]);
    const r = (await qc.getMessage('q1'))!;
    expect(r.msg.msgId).toBe('m1');
    await r.ack();
    expect(phase.inFlight('receiveNetwork')).toBe(0);
  });

  it('a GET that times out at the closed class (GATE_TIMEOUT) frees the slot', async () => {
    const { clock, relay, phase, qc } = withPhase({ defaultOpTimeoutMs: 1_000 });
    relay.send('q1', body('a'));
    phase.background();
    const waiting = codeOf(qc.getMessage('q1'));
    await clock.advance(1_000);
    expect(await waiting).toBe('GATE_TIMEOUT');
    expect(qc.busy('q1')).toBe(false);
    await phase.activate();
    const r = (await qc.getMessage('q1'))!;
    expect(r.msg.msgId).toBe('m1');
    await r.ack();
    expect(relay.acked).toEqual(['m1']);
  });

  it('a failing ACK still ends the receive op (the drain is not held)', async () => {
    const { clock, relay, phase } = withPhase();
    const host = { clock, log: memoryLog(), failpoints: recordingFailpoints() };
    const t = relay.transport({ beforeAck: () => Promise.reject(new Error('socket closed')) });
    const qc = new QueueCoordinator(host, t, { gate: phase });
    relay.send('q1', body('a'));
    const r = (await qc.getMessage('q1'))!;
    const suspending = phase.suspend(10_000);
    await flush();
    await expect(r.ack()).rejects.toThrow('socket closed');
    await suspending;
    expect(phase.phase).toBe('suspended');
    expect(phase.inFlight('receiveNetwork')).toBe(0);
    expect(relay.pending('q1').map((m) => m.msgId)).toEqual(['m1']);
  });
});
