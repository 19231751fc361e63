import { sentDigests } from '../history/digest.js';
import type { HistoryRecorder } from '../history/index.js';
import { relayTap } from './relay-tap.js';
import type { SimWorld } from './world.js';

/** Seeded PRNG (mulberry32): message labels and filler bytes come from the seed. */
export function seededRng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface SentMessage {
  label: string;
  /** Unique plaintext marker inside the message: what the at-rest scan looks for. */
  marker: string;
  queueId: string;
  /** The relay's id for it (null if the SEND failed). */
  msgId: string | null;
  /** The relay answered OK. */
  ok: boolean;
}

/**
 * The `send` verb: seals messages end to end and SENDs them from a sender
 * client, one at a time, recording `sender send` invoke/ok with the relay's
 * msgId (observed inside the relay while the SEND is handled, see relay-tap).
 */
export class Senders {
  readonly sent: SentMessage[] = [];
  /**
   * A two-device run: each other device's recorder, queues and list of what was sent to it. A
   * `send` is then one GSEND (./world.ts `sendGroup`), recorded on every device as that device's
   * `sender send` with its own queue and relay msgId: each device must get it exactly once.
   */
  readonly copies: { h: HistoryRecorder; queues: { queueId: string }[]; sent: SentMessage[] }[] = [];
  private readonly rng: () => number;
  private readonly runTag: string;

  constructor(
    private readonly w: SimWorld,
    private readonly h: HistoryRecorder,
    seed: number,
  ) {
    this.rng = seededRng(seed);
    this.runTag = `${seed.toString(36)}${Math.floor(this.rng() * 1e9).toString(36)}`;
  }

  async send(args: { count?: number; queue?: number; sender?: number; bytes?: number; notification?: boolean; poison?: boolean }): Promise<void> {
    const poison = args.poison === true;
    const count = Number(args.count ?? 1);
    const q = Number(args.queue ?? 0);
    const from = Number(args.sender ?? 0);
    const bytes = Number(args.bytes ?? 64);
    const queueId = this.w.queues[q]!.queueId;
    for (let k = 0; k < count; k++) {
      const n = this.sent.length + 1;
      const label = `m${n}`;
      const marker = `nsekitPLAIN${this.runTag}x${n}z`;
      let filler = '';
      while (filler.length < bytes - marker.length - 1) filler += String.fromCharCode(97 + Math.floor(this.rng() * 26));
      if (this.copies.length) {
        await this.sendGroup(from, q, label, marker, `${marker} ${filler}`, args.notification !== false, poison);
        continue;
      }
      const msg: SentMessage = { label, marker, queueId, msgId: null, ok: false };
      this.sent.push(msg);
      this.h.invoke('sender', 'send', { label, queueId, sender: from }, { ref: n });
      let msgId: string | null = null;
      const onInsert = (m: { queueId: string; msgId: string }) => {
        if (m.queueId === queueId) msgId = m.msgId;
      };
      relayTap.on('insert', onInsert);
      try {
        await this.w.send(from, q, `${marker} ${filler}`, args.notification !== false, poison);
      } catch (e) {
        this.h.fail('sender', 'send', (e as Error).message, { label, queueId }, { ref: n });
        continue;
      } finally {
        relayTap.off('insert', onInsert);
      }
      msg.msgId = msgId;
      msg.ok = true;
      this.h.ok('sender', 'send', { label, queueId, msgId, notification: args.notification !== false, ...sentDigests(`${marker} ${filler}`), ...(poison ? { poison } : {}) }, { ref: n });
    }
  }

  private async sendGroup(from: number, q: number, label: string, marker: string, text: string, notification: boolean, poison: boolean): Promise<void> {
    const n = this.sent.length + 1;
    const devs = [{ h: this.h, queues: this.w.queues, sent: this.sent }, ...this.copies];
    const msgs = devs.map((d) => {
      const m: SentMessage = { label, marker, queueId: d.queues[q]!.queueId, msgId: null, ok: false };
      d.sent.push(m);
      d.h.invoke('sender', 'send', { label, queueId: m.queueId, sender: from, group: `g${q}` }, { ref: n });
      return m;
    });
    let ids: string[];
    try {
      ids = await this.w.sendGroup(from, q, text, notification, poison);
    } catch (e) {
      devs.forEach((d, i) => d.h.fail('sender', 'send', (e as Error).message, { label, queueId: msgs[i]!.queueId }, { ref: n }));
      return;
    }
    devs.forEach((d, i) => {
      const m = msgs[i]!;
      m.msgId = ids[i] ?? null;
      m.ok = true;
      d.h.ok('sender', 'send', { label, queueId: m.queueId, msgId: m.msgId, group: `g${q}`, notification, ...sentDigests(text), ...(poison ? { poison } : {}) }, { ref: n });
    });
  }
}
