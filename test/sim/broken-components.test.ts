/**
 * The broken variants as decorators (sim/broken-components.ts), each against
 * the real part it wraps: the variant shows its flaw, the same scenario without
 * the decorator does not. (These cases were `broken` options of the core before.)
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isNsekitError } from '../../src/core/errors.js';
import { noFailpoints, type Host, type RelayMessage, type StoredMessage } from '../../src/core/host.js';
import { fetchAndProcess, type InboundDeps } from '../../src/core/inbound/index.js';
import { PhaseController } from '../../src/core/phase/index.js';
import { QueueCoordinator } from '../../src/core/queue/index.js';
import { SessionRuntime, type SessionComponents, type SessionInbox, type SessionTransport } from '../../src/core/session/index.js';
import { nodeClock, nodeRng, silentLog } from '../../src/node/host.js';
import { flockHolders } from '../../src/node/lock/index.js';
import { PendingInboxFile } from '../../src/node/pending-inbox/index.js';
import { nodePorts, SHARED_FILES } from '../../src/node/session-ports.js';
import { storeSyncFor, brokenComponents, UnserializedQueueCoordinator } from '../../sim/broken-components.js';
import { BROKEN_VARIANTS } from '../../sim/broken.js';
import { SimClock, flush } from '../helpers/sim-clock.js';

const root = mkdtempSync(join(tmpdir(), 'nsekit-broken-components-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const host = (clock = new SimClock()): Host => ({ clock, rng: nodeRng, log: silentLog, failpoints: noFailpoints });

/** A relay queue behind a transport port: GET peeks, ACK deletes; a GET can be held by the test. */
class RelayTransport {
  readonly msgs: RelayMessage[] = [];
  readonly relayAcks: string[] = [];
  gets = 0;
  hold: Promise<void> | null = null;
  get connected(): boolean {
    return true;
  }
  add(msgId: string): void {
    this.msgs.push({ msgId, queueId: 'q', ts: 1, flags: { notification: true }, body: new Uint8Array([1, 2, 3]) });
  }
  async get(_q: string): Promise<RelayMessage | null> {
    this.gets++;
    if (this.hold) await this.hold;
    return this.msgs[0] ?? null;
  }
  async ack(_q: string, msgId: string): Promise<void> {
    const i = this.msgs.findIndex((m) => m.msgId === msgId);
    if (i < 0) throw new Error(`no ${msgId}`);
    this.msgs.splice(i, 1);
    this.relayAcks.push(msgId);
  }
  async subscribe(): Promise<void> {}
  async unsubscribe(): Promise<void> {}
  async send(): Promise<void> {}
}
const asPort = (t: RelayTransport) => t as unknown as SessionTransport;

/** Wrap one port the way SessionRuntime does: build, then `components.ports`. */
function wrapPorts<K extends 'transport' | 'inbox'>(c: SessionComponents | undefined, key: K, port: unknown): unknown {
  const ports = { transport: undefined, inbox: undefined, [key]: port } as never;
  return c?.ports ? (c.ports(ports) as unknown as Record<K, unknown>)[key] : port;
}

describe('brokenComponents', () => {
  it('has a decorator (or, for the store durability, a configuration) for every variant and none for the correct protocol', () => {
    expect(brokenComponents(undefined)).toBeUndefined();
    expect(storeSyncFor(undefined)).toEqual({});
    for (const v of BROKEN_VARIANTS) {
      const parts = Object.keys(brokenComponents(v) ?? {}).length + Object.keys(storeSyncFor(v)).length;
      expect(parts, v).toBeGreaterThan(0);
    }
  });

  it('ack-before-write: the GET already ACKed at the relay, the pipeline ACK is not a second relay call; a failed write then loses the message', async () => {
    for (const broken of [false, true]) {
      const relay = new RelayTransport();
      relay.add('m1');
      const t = broken ? (wrapPorts(brokenComponents('ack-before-write'), 'transport', asPort(relay)) as SessionTransport) : asPort(relay);
      expect(t.connected).toBe(true); // the rest of the port passes through
      const qc = new QueueCoordinator(host(), t);
      // The body cannot be opened (no end-to-end key): the pipeline stops before any write and does not ACK.
      const deps: InboundDeps = {
        host: host(),
        store: { putMessage: async () => true, hasMessage: async () => false, markNotified: async () => true },
        bodyKey: new Uint8Array(32),
        inbox: { append: async () => {}, markNotified: async () => true, isNotified: async () => false },
        notifier: { show: async () => {} },
        e2eKey: () => null,
      };
      const code = await fetchAndProcess(deps, qc, 'q').then(() => 'ok', (e: unknown) => (isNsekitError(e) ? e.code : String(e)));
      expect(code).toBe('CRYPTO_BAD_KEY');
      // Correct: still at the relay for the next GET. Broken: deleted before it was durable anywhere.
      expect(relay.msgs.map((m) => m.msgId)).toEqual(broken ? [] : ['m1']);
      expect(relay.relayAcks).toEqual(broken ? ['m1'] : []);
    }
    // A successful receive: one relay ACK (inside the GET), the coordinator's ACK succeeds without another.
    const relay = new RelayTransport();
    relay.add('m2');
    const t = wrapPorts(brokenComponents('ack-before-write'), 'transport', asPort(relay)) as SessionTransport;
    const r = await new QueueCoordinator(host(), t).getMessage('q');
    expect(relay.relayAcks).toEqual(['m2']);
    await r!.ack();
    expect(relay.relayAcks).toEqual(['m2']);
  });

  it('unserialized-get: two GETs on one queue overlap and return the same message; the coordinator serializes them', async () => {
    const factory = brokenComponents('unserialized-get')!.queues!;
    for (const broken of [false, true]) {
      const relay = new RelayTransport();
      relay.add('m1');
      let release!: () => void;
      relay.hold = new Promise<void>((r) => (release = r));
      const h = host();
      const qc = broken ? factory(h, asPort(relay), {}) : new QueueCoordinator(h, asPort(relay));
      expect(qc instanceof UnserializedQueueCoordinator).toBe(broken);
      const a = qc.getMessage('q');
      const b = qc.getMessage('q');
      await flush();
      expect(relay.gets).toBe(broken ? 2 : 1);
      release();
      const ra = await a;
      if (broken) {
        expect((await b)?.msg.msgId).toBe(ra?.msg.msgId); // GET isolation broken
        await ra!.ack();
      } else {
        await ra!.ack();
        relay.hold = null;
        expect(await b).toBeNull(); // the second GET ran after the ACK
      }
    }
  });

  it('ungated-db-when-suspended: database ops start while suspended, network ops still wait', async () => {
    const clock = new SimClock();
    const phase = new PhaseController(host(clock), { proc: 'app' });
    const gate = brokenComponents('ungated-db-when-suspended')!.gate!(phase);
    // Open: through the controller (counted in flight), as usual.
    let inFlight = -1;
    await gate.run('database', () => void (inFlight = phase.inFlight('database')));
    expect(inFlight).toBe(1);
    await phase.suspend(0);
    expect(phase.phase).toBe('suspended');
    const ran: string[] = [];
    await gate.run('database', () => void ran.push('db'));
    void gate.run('receiveNetwork', () => void ran.push('net'), { timeoutMs: 1_000 }).catch(() => ran.push('net refused'));
    void phase.run('database', () => void ran.push('db via the controller'), { timeoutMs: 1_000 }).catch(() => ran.push('db refused'));
    await flush();
    expect(ran).toEqual(['db']);
    await clock.advance(1_000);
    expect(ran).toEqual(['db', 'net refused', 'db refused']);
    phase.stop();
  });

  it('no-lock-release-on-suspend: the session suspends holding the flock (kernel view); the correct one does not', async () => {
    for (const variant of [undefined, 'no-lock-release-on-suspend'] as const) {
      const dir = mkdtempSync(join(root, 'lock-'));
      const h: Host = { clock: nodeClock, rng: nodeRng, log: silentLog, failpoints: noFailpoints };
      const components = brokenComponents(variant);
      const rt = new SessionRuntime({
        cfg: { role: 'nse', queues: [] },
        host: h,
        events: { emit() {} },
        ports: (gate) => nodePorts({ role: 'nse', sharedDir: dir, relayUrl: 'ws://127.0.0.1:9/' }, h, gate),
        ...(components ? { components } : {}),
      });
      rt.store.open();
      await rt.phase.suspend(1_000);
      expect(rt.phase.phase).toBe('suspended');
      const held = flockHolders(join(dir, SHARED_FILES.lock)).includes(process.pid);
      expect({ variant, held, lockHeld: rt.lock.held, storeOpen: rt.store.isOpen }).toEqual({ variant, held: !!variant, lockHeld: !!variant, storeOpen: false });
      await rt.close();
      expect(flockHolders(join(dir, SHARED_FILES.lock)).includes(process.pid)).toBe(false);
    }
  });

  it('inbox-no-fsync-claim: an append between the import\'s read and its delete is lost; the claim by rename keeps it', async () => {
    const rec = (msgId: string): StoredMessage => ({ msgId, queueId: 'q', ts: 1, flags: { notification: true }, sealed: new Uint8Array([7]) });
    for (const broken of [false, true]) {
      const path = join(mkdtempSync(join(root, 'inbox-')), SHARED_FILES.inbox);
      const file = new PendingInboxFile(path, { clock: nodeClock, rng: nodeRng, log: silentLog, failpoints: noFailpoints });
      const inbox = broken ? (wrapPorts(brokenComponents('inbox-no-fsync-claim'), 'inbox', file) as SessionInbox) : file;
      expect(inbox === file).toBe(!broken);
      await file.append(rec('r1'));
      const stored: string[] = [];
      const r = await inbox.importInto({
        putMessages: async (ms) => {
          stored.push(...ms.map((m) => m.msgId));
          // The other process appends while this import commits.
          await file.append(rec('r2'));
          return ms.length;
        },
      });
      expect(r).toMatchObject({ records: 1, inserted: 1 });
      expect(stored).toEqual(['r1']);
      const left = existsSync(path) ? file.read().records.map((m) => m.msgId) : [];
      // Correct: r2 went to a fresh live file (the import had claimed the old one). Broken: deleted with it.
      expect(left).toEqual(broken ? [] : ['r2']);
    }
  });
});
