import type { ManagedProc } from '../../device/proc.js';
import type { EventMsg } from '../../device/ipc.js';
import { sealForQueue } from '../../core/inbound/index.js';
import { nodeRng } from '../../node/host.js';
import type { UserDevices } from '../user-devices.js';
import type { World } from '../world.js';

/** How long a stage waits for the notifications of messages that arrived (only for the table). */
const NOTIFY_WAIT_MS = 3_000;

/** One message the demo's sender sent: the table's row. */
export interface Sent {
  label: string;
  text: string;
  stage: string;
  queue: number;
  /** Its id on the World's device (the one the walk follows). */
  msgId: string;
  /** With several devices: its id on each device, in device order (one fan-out, docs/protocol.md). */
  msgIds?: string[];
  /** Written in device 1's app (its outbox), into its own queue: on that device only, not a fan-out. */
  fromApp?: boolean;
}

/**
 * What the demo sent and what the device reported about it, with every wait bounded and
 * none fatal: a wait that runs out is reported (which messages, where they are) and the
 * demo goes on, so it always reaches its table and verdict (docs/cli.md, `nsekit demo`).
 */
export class Tracker {
  readonly sent: Sent[] = [];
  /** Stage waits that ran out (the messages arrived later, or the verdict names them). */
  readonly late: string[] = [];

  constructor(
    readonly w: World,
    readonly say: (line: string) => void,
    /** The user's other devices: every message goes to all of them at once (GSEND). */
    readonly user: UserDevices | null = null,
  ) {}

  get d() {
    return this.w.device;
  }

  /** Send `n` texts for `stage`, alternating queues from `queue`; sealed end to end, msgIds kept. */
  async send(stage: string, queue: number, n: number, prefix = '', opts: { notification?: boolean } = {}): Promise<Sent[]> {
    const notification = opts.notification ?? true;
    const batch: Sent[] = [];
    for (let i = 0; i < n; i++) {
      const q = this.w.queues[queue]!;
      const text = `${prefix}${stage} #${i + 1}`;
      const label = `m${this.sent.length + 1}`;
      let s: Sent;
      if (this.user) {
        const msgIds = await this.user.send(queue, text, { clientId: `demo-${label}`, notification });
        s = { label, text, stage, queue, msgId: msgIds[0] ?? '', msgIds };
      } else {
        const body = sealForQueue(q.e2e, nodeRng, q.queueId, { type: 'text', text });
        if (!this.w.sender.connected) await this.w.sender.connect();
        // With a clientId the relay answers the msgId (how the device's events name the message).
        const r = await this.w.sender.sendWithResult(q.queueId, body, { notification }, { clientId: `demo-${label}` });
        s = { label, text, stage, queue, msgId: r.msgId ?? '' };
      }
      this.sent.push(s);
      batch.push(s);
      queue = (queue + 1) % this.w.queues.length;
    }
    return batch;
  }

  private has(name: EventMsg['name'], msgId: string, after = 0): number {
    const ev = this.d.events;
    for (let i = after; i < ev.length; i++) if (ev[i]!.name === name && ev[i]!.msgId === msgId) return i;
    return -1;
  }

  /** Durable on the device: in the store, or in the pending inbox (imported later). */
  arrived(s: Sent): boolean {
    return this.has('stored', s.msgId) >= 0 || this.has('inboxed', s.msgId) >= 0;
  }

  /** In the store: stored, or inboxed and an import ran after it. */
  home(s: Sent): boolean {
    if (this.has('stored', s.msgId) >= 0) return true;
    const i = this.has('inboxed', s.msgId);
    return i >= 0 && this.d.events.slice(i).some((e) => e.name === 'imported');
  }

  /** Where a message is, as far as the device's events tell (for the FAIL line). */
  whereabouts(s: Sent): string {
    if (this.has('stored', s.msgId) >= 0) return 'stored';
    if (this.has('inboxed', s.msgId) >= 0) return 'in the pending inbox, never imported';
    return 'never fetched from the relay';
  }

  /** Wait (bounded) until `cond` holds; re-checked on every device event and every 250 ms. */
  async until(cond: () => boolean, timeoutMs: number): Promise<boolean> {
    const end = Date.now() + timeoutMs;
    while (!cond()) {
      const left = end - Date.now();
      if (left <= 0) return false;
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(t);
          this.d.off('event', done);
          resolve();
        };
        const t = setTimeout(done, Math.min(250, left));
        this.d.on('event', done);
      });
    }
    return true;
  }

  /** Wait for a stage's messages to arrive; a wait that runs out is said, not thrown. */
  async arrive(stage: string, batch: Sent[], timeoutMs: number, quiet = false): Promise<boolean> {
    const ok = await this.until(() => batch.every((s) => this.arrived(s)), timeoutMs);
    // The notification follows the ACK: give it a moment, so the table shows it (not a condition).
    if (ok) await this.until(() => batch.every((s) => this.has('notification', s.msgId) >= 0), NOTIFY_WAIT_MS);
    if (!ok) {
      const missing = batch.filter((s) => !this.arrived(s)).map((s) => s.label);
      this.late.push(stage);
      if (!quiet) this.say(`   ${stage}: ${missing.join(' ')} not on the device after ${timeoutMs / 1000} s (going on; the verdict checks again)`);
    }
    return ok;
  }

  /**
   * An event from this app/NSE process (index ≥ `from` in its own log), or false once it exits
   * or `timeoutMs` passes — a killed process is not waited for.
   */
  async procEvent(p: ManagedProc | null, pred: (e: EventMsg) => boolean, from: number, timeoutMs: number): Promise<boolean> {
    if (!p?.alive) return false;
    return p.waitFor(pred, { from, timeoutMs }).then(
      () => true,
      () => false,
    );
  }
}
