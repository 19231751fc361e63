import { describe, expect, it } from 'vitest';
import { fetchAndProcess, processInbound, sealForQueue, type InboundDeps } from '../../src/core/inbound/index.js';
import { QueueCoordinator } from '../../src/core/queue/index.js';
import { EnvelopeKind, deriveKeyRing, open } from '../../src/core/crypto/index.js';
import { decodeContent, encodeContent, isUserContent, type MessageContent } from '../../src/core/content.js';
import { isNsekitError, NsekitError } from '../../src/core/errors.js';
import { utf8Decode, utf8Encode } from '../../src/core/bytes.js';
import type { Host } from '../../src/core/host.js';
import { SimClock, flush } from '../helpers/sim-clock.js';
import {
  FakeRelay,
  MemoryInbox,
  MemoryStore,
  RecordingNotifier,
  SeededRng,
  deferred,
  memoryLog,
  recordingFailpoints,
  type Events,
} from '../helpers/fakes.js';

const E2E = new Uint8Array(32).fill(7);
const ring = deriveKeyRing(new Uint8Array(32).fill(1));

function setup(opts: { locked?: boolean } = {}) {
  const events: Events = [];
  const host: Host = { clock: new SimClock(), rng: new SeededRng(42), log: memoryLog(), failpoints: recordingFailpoints(events) };
  const relay = new FakeRelay(events);
  const transport = relay.transport();
  const store = new MemoryStore(events);
  const inbox = new MemoryInbox(events);
  const notifier = new RecordingNotifier(events);
  const deps: InboundDeps = {
    host,
    store: opts.locked ? null : store,
    inbox,
    notifier,
    e2eKey: (q) => (q.startsWith('q') ? E2E : null),
    bodyKey: opts.locked ? null : ring.body,
    logTag: 'nse',
  };
  const queues = new QueueCoordinator(host, transport);
  const senderRng = new SeededRng(9);
  const send = (q: string, c: MessageContent, notification = isUserContent(c)) =>
    relay.send(q, sealForQueue(E2E, senderRng, q, c), { notification });
  return { events, host, relay, transport, store, inbox, notifier, deps, queues, send };
}

const text = (t: string): MessageContent => ({ type: 'text', text: t, from: 'alice' });

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'resolved';
  } catch (e) {
    return isNsekitError(e) ? e.code : `other: ${String(e)}`;
  }
}

describe('content', () => {
  it('round-trips and rejects malformed content with CONTENT_MALFORMED', () => {
    const c: MessageContent = { type: 'group_message', text: 'hi 👋🏽', group: 'team', from: 'bob' };
    expect(decodeContent(encodeContent(c))).toEqual(c);
    for (const bad of ['', 'nope', '[]', 'null', '{"type":"video"}', '{"type":"text","text":5}', '{"text":"x"}']) {
      let code = 'none';
      try {
        decodeContent(utf8Encode(bad));
      } catch (e) {
        code = isNsekitError(e) ? e.code : 'other';
      }
      expect(code, bad).toBe('CONTENT_MALFORMED');
    }
    expect(['text', 'image', 'group_message', 'receipt', 'other'].map((t) => isUserContent({ type: t as never }))).toEqual([
      true,
      true,
      true,
      false,
      false,
    ]);
  });
});

describe('processInbound', () => {
  it('unlocked: decrypts, stores re-sealed under the body key, notifies with derived text', async () => {
    const { send, deps, store, notifier, relay, events } = setup();
    const long = 'x'.repeat(150);
    const m = send('q1', text(long));
    const out = await processInbound(deps, relay.get('q1')!);
    expect(out).toMatchObject({ msgId: m.msgId, stored: 'store', notified: true });
    expect(notifier.shown).toEqual([{ msgId: m.msgId, queueId: 'q1', title: 'alice', body: 'x'.repeat(99) + '…', threadId: 'q1' }]);
    const row = store.messages.get(m.msgId)!;
    const plain = open(ring.body, { kind: EnvelopeKind.messageBody, recordId: m.msgId, queueId: 'q1' }, row.sealed);
    expect(decodeContent(plain)).toEqual(text(long));
    // The stored row holds no plaintext.
    expect(utf8Decode(row.sealed).includes('xxxx')).toBe(false);
    expect(events.filter((e) => !e.startsWith('relay'))).toEqual([
      'fp inbound.decrypted',
      'store.put m1',
      'fp db.write.done',
      'store.notified m1',
      // The inbox marker: the at-most-once record a process that is still locked can read too.
      'inbox.marked m1',
      'notify m1',
      'fp notify.shown',
    ]);
  });

  it('duplicate: the same msgId twice is stored once and notified once', async () => {
    const { send, deps, store, notifier, relay } = setup();
    send('q1', text('hello'));
    const m = relay.get('q1')!;
    const a = await processInbound(deps, m);
    const b = await processInbound(deps, m);
    expect(a.stored).toBe('store');
    expect(b).toEqual({ msgId: m.msgId, stored: 'duplicate', notified: false });
    expect(store.messages.size).toBe(1);
    expect(notifier.shown).toHaveLength(1);
  });

  it('receipts are stored but never notified', async () => {
    const { send, deps, store, notifier, relay } = setup();
    send('q1', { type: 'receipt' });
    const out = await processInbound(deps, relay.get('q1')!);
    expect(out).toEqual({ msgId: 'm1', stored: 'store', notified: false });
    expect(store.messages.size).toBe(1);
    expect(notifier.shown).toEqual([]);
  });

  it('locked: appends the still-sealed relay body to the inbox with a generic notification', async () => {
    const { send, deps, inbox, notifier, relay, store } = setup({ locked: true });
    send('q1', text('secret words'));
    send('q1', { type: 'receipt' });
    const m1 = relay.pending('q1')[0]!;
    const m2 = relay.pending('q1')[1]!;
    expect(await processInbound(deps, m1)).toMatchObject({ stored: 'inbox', notified: true });
    expect(await processInbound(deps, m2)).toEqual({ msgId: m2.msgId, stored: 'inbox', notified: false });
    expect(inbox.records.map((r) => r.msgId)).toEqual([m1.msgId, m2.msgId]);
    expect(inbox.records[0]!.sealed).toEqual(m1.body);
    expect(inbox.records[0]!.flags).toEqual({ notification: true });
    expect(utf8Decode(inbox.records[0]!.sealed).includes('secret')).toBe(false);
    expect(notifier.shown).toEqual([{ msgId: m1.msgId, queueId: 'q1', title: 'New message', body: '', threadId: 'q1' }]);
    expect(store.messages.size).toBe(0);
    // The inbox record opens later with the queue's e2e key.
    expect(decodeContent(open(E2E, { kind: EnvelopeKind.e2eBody, recordId: '', queueId: 'q1' }, inbox.records[0]!.sealed))).toEqual(
      text('secret words'),
    );
  });

  it('malformed but authentic content is kept as other, not notified, not blocking', async () => {
    const { deps, store, notifier, relay } = setup();
    const { seal } = await import('../../src/core/crypto/index.js');
    relay.send('q1', seal(E2E, new SeededRng(3), { kind: EnvelopeKind.e2eBody, recordId: '', queueId: 'q1' }, utf8Encode('{oops')));
    expect(await processInbound(deps, relay.get('q1')!)).toEqual({ msgId: 'm1', stored: 'store', notified: false });
    expect(store.messages.size).toBe(1);
    expect(notifier.shown).toEqual([]);
  });

  it('unknown queue key and a body sealed for another queue are typed errors', async () => {
    const { deps, relay } = setup();
    relay.send('x9', sealForQueue(E2E, new SeededRng(1), 'x9', text('a')));
    expect(await codeOf(processInbound(deps, relay.get('x9')!))).toBe('CRYPTO_BAD_KEY');
    relay.send('q2', sealForQueue(E2E, new SeededRng(1), 'q1', text('moved')));
    expect(await codeOf(processInbound(deps, relay.get('q2')!))).toBe('CRYPTO_AUTH_FAILED');
  });
});

describe('fetchAndProcess', () => {
  it('ACKs strictly after putMessage resolved, then notifies', async () => {
    const { send, deps, queues, store, relay, events } = setup();
    send('q1', text('one'));
    const hold = deferred();
    store.beforePut = async () => {
      events.push('put started');
      await hold.promise;
    };
    const p = fetchAndProcess(deps, queues, 'q1');
    await flush();
    expect(events).toContain('put started');
    expect(relay.acked).toEqual([]);
    hold.resolve();
    const out = await p;
    expect(out.map((o) => o.stored)).toEqual(['store']);
    const order = events.filter((e) => /^(store\.put|relay\.ack|notify|relay\.get)/.test(e));
    expect(order).toEqual(['relay.get q1 m1', 'store.put m1', 'relay.ack q1 m1', 'notify m1', 'relay.get q1 empty']);
  });

  it('a failing store write releases without ACK: the message stays at the relay', async () => {
    const { send, deps, queues, store, relay, transport } = setup();
    send('q1', text('one'));
    store.beforePut = () => {
      throw new Error('disk full');
    };
    await expect(fetchAndProcess(deps, queues, 'q1')).rejects.toThrow('disk full');
    expect(transport.acks).toBe(0);
    expect(relay.pending('q1').map((m) => m.msgId)).toEqual(['m1']);
    expect(queues.busy('q1')).toBe(false);
    store.beforePut = undefined;
    expect((await fetchAndProcess(deps, queues, 'q1')).map((o) => o.msgId)).toEqual(['m1']);
    expect(relay.pending('q1')).toEqual([]);
  });

  it('a tampered body is a typed error, not ACKed, nothing stored or notified', async () => {
    const { send, deps, queues, store, relay, transport, notifier } = setup();
    const m = send('q1', text('one'));
    m.body[m.body.length - 3]! ^= 0x01;
    expect(await codeOf(fetchAndProcess(deps, queues, 'q1'))).toBe('CRYPTO_AUTH_FAILED');
    expect(transport.acks).toBe(0);
    expect(relay.pending('q1')).toHaveLength(1);
    expect(store.messages.size).toBe(0);
    expect(notifier.shown).toEqual([]);
    expect(queues.busy('q1')).toBe(false);
  });

  it('honours the extra-GET cap and stops when the queue is empty', async () => {
    const { send, deps, queues, relay, transport } = setup();
    for (let i = 0; i < 7; i++) send('q1', text(`m${i}`));
    const first = await fetchAndProcess(deps, queues, 'q1');
    expect(first.map((o) => o.msgId)).toEqual(['m1', 'm2', 'm3', 'm4']);
    expect(relay.pending('q1')).toHaveLength(3);
    const none = await fetchAndProcess(deps, queues, 'q1', { maxExtraGets: 0 });
    expect(none.map((o) => o.msgId)).toEqual(['m5']);
    const gets = transport.gets;
    const rest = await fetchAndProcess(deps, queues, 'q1', { maxExtraGets: 5 });
    expect(rest.map((o) => o.msgId)).toEqual(['m6', 'm7']);
    // Two messages plus the one GET that found the queue empty.
    expect(transport.gets - gets).toBe(3);
  });

  it('two concurrent fetchAndProcess on one queue store two distinct messages', async () => {
    const { send, deps, queues, store, relay, notifier } = setup();
    send('q1', text('a'));
    send('q1', text('b'));
    const [x, y] = await Promise.all([
      fetchAndProcess(deps, queues, 'q1', { maxExtraGets: 0 }),
      fetchAndProcess(deps, queues, 'q1', { maxExtraGets: 0 }),
    ]);
    expect([...x!, ...y!].map((o) => o.msgId).sort()).toEqual(['m1', 'm2']);
    expect([...x!, ...y!].every((o) => o.stored === 'store' && o.notified)).toBe(true);
    expect([...store.messages.keys()].sort()).toEqual(['m1', 'm2']);
    expect(notifier.shown).toHaveLength(2);
    expect(relay.pending('q1')).toEqual([]);
  });

  it('locked device: inbox append then ACK, the ACK waits for the append', async () => {
    const { send, deps, queues, inbox, relay, events } = setup({ locked: true });
    send('q1', text('a'));
    const hold = deferred();
    inbox.beforeAppend = () => hold.promise;
    const p = fetchAndProcess(deps, queues, 'q1');
    await flush();
    expect(relay.acked).toEqual([]);
    hold.resolve();
    expect((await p).map((o) => o.stored)).toEqual(['inbox']);
    const order = events.filter((e) => /^(inbox|relay\.ack|notify)/.test(e));
    expect(order).toEqual(['inbox.append m1', 'inbox.marked m1', 'relay.ack q1 m1', 'notify m1']);
  });

  it('locked device, a message re-fetched before its ACK landed: appended twice, one generic notification', async () => {
    const { send, deps, queues, inbox, relay, notifier, events } = setup({ locked: true });
    // The relay keeps m1 (ACK lost), so the next GET serves it again.
    let failAck = true;
    const origAck = relay.ack.bind(relay);
    relay.ack = (q, id) => {
      if (failAck) throw new Error('ack lost');
      origAck(q, id);
    };
    send('q1', text('a'));
    await expect(fetchAndProcess(deps, queues, 'q1')).rejects.toThrow('ack lost');
    failAck = false;
    expect(await fetchAndProcess(deps, queues, 'q1')).toEqual([{ msgId: 'm1', stored: 'inbox', notified: false, redelivered: true }]);
    expect(events.filter((e) => /^(inbox|relay\.ack|notify)/.test(e))).toEqual([
      'inbox.append m1',
      'inbox.marked m1',
      'notify m1',
      'inbox.append m1',
      'inbox.already-marked m1',
      'relay.ack q1 m1',
    ]);
    expect(notifier.shown.map((c) => [c.msgId, c.title])).toEqual([['m1', 'New message']]);
    expect(inbox.records.map((r) => r.msgId)).toEqual(['m1', 'm1']); // the import dedupes the records
    expect(relay.pending('q1')).toEqual([]);
  });

  it('a fetch that began locked and finds the key back at its mark: the store record (imported markers) has the last word', async () => {
    const { send, deps, queues, inbox, store, notifier, events } = setup({ locked: true });
    let unlocked = false;
    const live: InboundDeps = { ...deps, get store() { return unlocked ? store : null; } };
    // Meanwhile the other process showed m1 while locked and the import moved its marker into the store.
    inbox.beforeAppend = async () => {
      unlocked = true;
      store.notified.add('m1');
    };
    send('q1', text('a'));
    expect((await fetchAndProcess(live, queues, 'q1')).map((o) => [o.stored, o.notified])).toEqual([['inbox', false]]);
    expect(events.filter((e) => /^inbox\./.test(e))).toEqual(['inbox.append m1', 'inbox.marked m1']);
    expect(notifier.shown).toEqual([]);
  });

  it('locked device: a message without the notification flag is appended but never marked', async () => {
    const { send, deps, queues, inbox, notifier } = setup({ locked: true });
    send('q1', { type: 'receipt' }, false);
    expect((await fetchAndProcess(deps, queues, 'q1')).map((o) => o.notified)).toEqual([false]);
    expect([...inbox.notified]).toEqual([]);
    expect(notifier.shown).toEqual([]);
  });

  it('unlocked: a message another process announced while locked (marker in the inbox) is stored, recorded, not shown again', async () => {
    const { send, deps, queues, inbox, store, notifier, relay, events } = setup();
    send('q1', text('a'));
    send('q1', text('b'));
    await inbox.markNotified('m1');
    const out = await fetchAndProcess(deps, queues, 'q1');
    expect(out.map((o) => [o.msgId, o.stored, o.notified])).toEqual([
      ['m1', 'store', false],
      ['m2', 'store', true],
    ]);
    expect([...store.notified].sort()).toEqual(['m1', 'm2']); // at most once from here on, store path included
    expect(notifier.shown.map((c) => c.msgId)).toEqual(['m2']);
    expect(events.filter((e) => /^(store\.notified|relay\.ack) .*m1/.test(e))).toEqual(['store.notified m1', 'relay.ack q1 m1']);
    expect(relay.pending('q1')).toEqual([]);
  });

  it('unlocked: a failing marker append does not cost the notification (logged, shown)', async () => {
    const { send, deps, queues, inbox, notifier, host } = setup();
    inbox.markNotified = () => Promise.reject(new Error('EIO'));
    send('q1', text('a'));
    expect((await fetchAndProcess(deps, queues, 'q1')).map((o) => o.notified)).toEqual([true]);
    expect(notifier.shown).toHaveLength(1);
    expect((host.log as ReturnType<typeof memoryLog>).entries.some((e) => e.msg === 'inbox marker append failed: notifying')).toBe(true);
  });

  it('an ACK that fails after the write still notifies, then surfaces the error; a re-GET dedupes', async () => {
    const events: Events = [];
    const host: Host = { clock: new SimClock(), rng: new SeededRng(1), log: memoryLog(), failpoints: recordingFailpoints() };
    const relay = new FakeRelay(events);
    let failAck = true;
    const t = relay.transport({
      beforeAck: () => {
        if (failAck) throw new Error('connection lost');
      },
    });
    const store = new MemoryStore(events);
    const notifier = new RecordingNotifier(events);
    const deps: InboundDeps = { host, store, inbox: new MemoryInbox(), notifier, e2eKey: () => E2E, bodyKey: ring.body };
    const queues = new QueueCoordinator(host, t);
    relay.send('q1', sealForQueue(E2E, new SeededRng(2), 'q1', text('a')));
    await expect(fetchAndProcess(deps, queues, 'q1')).rejects.toThrow('connection lost');
    expect(notifier.shown).toHaveLength(1);
    failAck = false;
    expect(await fetchAndProcess(deps, queues, 'q1')).toEqual([{ msgId: 'm1', stored: 'duplicate', notified: false }]);
    expect(relay.pending('q1')).toEqual([]);
    expect(notifier.shown).toHaveLength(1);
  });

  it('an ACK answered PROTO_NO_MSG (another process ACKed first) stores but does not show: that process shows it', async () => {
    const events: Events = [];
    const host: Host = { clock: new SimClock(), rng: new SeededRng(1), log: memoryLog(), failpoints: recordingFailpoints() };
    const relay = new FakeRelay(events);
    const t = relay.transport({
      beforeAck: () => {
        throw new NsekitError('PROTO_NO_MSG', 'no such message');
      },
    });
    const store = new MemoryStore(events);
    const notifier = new RecordingNotifier(events);
    const deps: InboundDeps = { host, store, inbox: new MemoryInbox(), notifier, e2eKey: () => E2E, bodyKey: ring.body };
    relay.send('q1', sealForQueue(E2E, new SeededRng(2), 'q1', text('a')));
    await expect(fetchAndProcess(deps, new QueueCoordinator(host, t), 'q1')).rejects.toMatchObject({ code: 'PROTO_NO_MSG' });
    expect(events).toContain('store.put m1');
    expect(notifier.shown).toEqual([]);
  });
});
