import { describe, expect, it } from 'vitest';
import { QueueCoordinator } from '../../src/core/queue/index.js';
import { isNsekitError } from '../../src/core/errors.js';
import { SimClock, flush } from '../helpers/sim-clock.js';
import { FakeRelay, deferred, memoryLog, recordingFailpoints, type Events } from '../helpers/fakes.js';

const body = (s: string) => new Uint8Array([...s].map((c) => c.charCodeAt(0)));

/** A suspension forced past a receive voids it (QueueCoordinator.abandonHeld, called from the session's onSuspend). */
describe('QueueCoordinator.abandonHeld', () => {
  function setup() {
    const events: Events = [];
    const clock = new SimClock();
    const relay = new FakeRelay(events);
    const held = deferred();
    let hold = true;
    const transport = relay.transport({ beforeGet: async () => void (hold && (await held.promise)) });
    const qc = new QueueCoordinator({ clock, log: memoryLog(), failpoints: recordingFailpoints(events) }, transport);
    return { events, relay, qc, release: () => ((hold = false), held.resolve()) };
  }

  it('a GET still on the wire when its slot is given up is refused, not handed out; the message stays at the relay', async () => {
    const { relay, qc, release } = setup();
    relay.send('q', body('a'));
    const first = qc.getMessage('q').then(
      () => 'resolved',
      (e: unknown) => (isNsekitError(e, 'QUEUE_SLOT_EXPIRED') ? 'expired' : String(e)),
    );
    await flush();
    expect(qc.abandonHeld()).toBe(1);
    // Its GET is still on the wire: the next GET waits for it, or the relay would serve m1 twice.
    expect(qc.busy('q')).toBe(true);
    release();
    expect(await first).toBe('expired');
    expect(qc.busy('q')).toBe(false);
    expect(relay.pending('q').map((m) => m.msgId)).toEqual(['m1']);
    // The next receive gets the same message and may ACK it.
    const again = await qc.getMessage('q');
    expect(again?.msg.msgId).toBe('m1');
    await again!.ack();
    expect(relay.pending('q')).toEqual([]);
  });

  it('a receive that already has its message cannot ACK once its slot was given up', async () => {
    const { relay, qc, release } = setup();
    release();
    relay.send('q', body('a'));
    const r = await qc.getMessage('q');
    expect(qc.abandonHeld()).toBe(1);
    await expect(r!.ack()).rejects.toMatchObject({ code: 'QUEUE_SLOT_EXPIRED' });
    expect(relay.pending('q').map((m) => m.msgId)).toEqual(['m1']);
    expect(qc.abandonHeld()).toBe(0);
  });
});
