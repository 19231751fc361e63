import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Clock, Log } from '../core/host.js';
import { verifyStatusSignature } from '../core/protocol/status-sig.js';
import type { RelayDb } from './db.js';

export interface StatusOptions {
  /** Largest accepted |now - timestamp|, ms (default 300 000). */
  skewMs: number;
  /**
   * Bound on remembered accepted (id, timestamp) pairs, all queues together. When full, the
   * oldest timestamp of the queue holding the most is folded into that queue's floor.
   */
  maxReplayEntries: number;
  /** Bound per queue; when full, that queue's oldest timestamp is folded into its floor. */
  maxReplayEntriesPerQueue: number;
}

export const DEFAULT_STATUS: StatusOptions = { skewMs: 300_000, maxReplayEntries: 100_000, maxReplayEntriesPerQueue: 256 };

const ID_RE = /^[A-Za-z0-9_-]{1,64}$/;
const TS_RE = /^[0-9]{1,16}$/;
const SIG_RE = /^[0-9a-fA-F]{128}$/;

/** One queue's replay memory: exact accepted timestamps, plus a floor for the ones given up. */
interface QueueReplay {
  /** Accepted timestamps still remembered. */
  ts: Set<number>;
  /** Timestamps ≤ floor are refused as replays (folded, no longer listed); -1 = none. */
  floor: number;
}

/**
 * Replay memory, per queue, bounded per queue and overall, that never lets a
 * replay through and never lets one queue push another's polls into a 503:
 *
 * - Each queue remembers its accepted timestamps exactly. When it would hold
 *   more than `perQueue`, its smallest timestamp is dropped and *folded into its
 *   floor*: later requests for that queue at or below the floor are refused
 *   PROTO_REPLAY. Sound (anything forgotten is still refused) and harmless to a
 *   client that polls with fresh timestamps: only a request older than the
 *   queue's `perQueue` newer accepted ones is affected.
 * - Overall, when `total` entries are held, the entry folded is taken from the
 *   queue that currently holds the most (largest first). A queue polling hard
 *   therefore only ever loses its own entries; another queue is touched only
 *   when it is itself among the largest.
 * - Only a queue with no entry yet, arriving when the memory is full of
 *   single-entry queues (`total` distinct queues polled within 2·skew), is
 *   refused 503 PROTO_BUSY.
 * Entries are forgotten 2·skew after acceptance (by then the timestamp is stale).
 */
export class ReplayMemory {
  private readonly queues = new Map<string, QueueReplay>();
  /** Acceptance order, for expiry: `${id}:${ts}` → forget-after. Also floor markers `${id}:floor`. */
  private readonly expiry = new Map<string, number>();
  /** bySize[n] = ids of queues holding exactly n entries (n ≥ 1), to find the largest in O(1). */
  private readonly bySize: Array<Set<string>> = [];
  private maxSize = 0;
  private entries = 0;

  constructor(
    private readonly skewMs: number,
    private readonly total: number,
    private readonly perQueue: number,
  ) {}

  get size(): number {
    return this.entries;
  }

  /** 'replay' if (id, ts) was accepted (or folded) before; 'busy' if it cannot be remembered; else remembers it. */
  accept(id: string, ts: number, now: number): 'ok' | 'replay' | 'busy' {
    this.forgetOld(now);
    const q = this.queues.get(id);
    if (q && (ts <= q.floor || q.ts.has(ts))) return 'replay';
    const n = q?.ts.size ?? 0;
    if (n >= Math.max(1, this.perQueue)) {
      this.foldOldest(id, q!, now);
    } else if (this.entries >= Math.max(1, this.total)) {
      // Take from a largest queue — this one when it is among them. A queue new to a memory
      // full of single-entry queues has nothing fair to take: only then 'busy'.
      const victimId = n > 0 && n >= this.maxSize ? id : this.maxSize >= 2 ? (this.bySize[this.maxSize]!.values().next().value as string) : null;
      if (victimId === null) return 'busy';
      this.foldOldest(victimId, this.queues.get(victimId)!, now);
    }
    const rec = this.queues.get(id) ?? { ts: new Set<number>(), floor: -1 };
    this.queues.set(id, rec);
    this.resize(id, rec.ts.size, rec.ts.size + 1);
    rec.ts.add(ts);
    this.entries++;
    this.expiry.set(`${id}:${ts}`, now + 2 * this.skewMs);
    return 'ok';
  }

  /** Drops the queue's smallest timestamp into its floor. */
  private foldOldest(id: string, q: QueueReplay, now: number): void {
    let min = Infinity;
    for (const t of q.ts) if (t < min) min = t;
    // Floor first: remove() keeps a record that has a floor even when it is left empty.
    q.floor = Math.max(q.floor, min);
    this.remove(id, q, min, now);
  }

  private remove(id: string, q: QueueReplay, ts: number, now: number): void {
    this.resize(id, q.ts.size, q.ts.size - 1);
    q.ts.delete(ts);
    this.entries--;
    this.expiry.delete(`${id}:${ts}`);
    if (q.ts.size === 0) this.emptied(id, q, now);
  }

  /** A queue with no entry left: forgotten, unless its floor must outlive the timestamps it covers. */
  private emptied(id: string, q: QueueReplay, now: number): void {
    if (q.floor < 0) {
      this.queues.delete(id);
      return;
    }
    // Every folded timestamp is ≤ its acceptance + skew ≤ now + skew: stale once this marker expires.
    const k = `${id}:floor`;
    this.expiry.delete(k); // re-inserted at the end, keeping the map in forget order
    this.expiry.set(k, now + 2 * this.skewMs);
  }

  private resize(id: string, from: number, to: number): void {
    if (from > 0) this.bySize[from]!.delete(id);
    if (to > 0) (this.bySize[to] ??= new Set()).add(id);
    if (to > this.maxSize) this.maxSize = to;
    while (this.maxSize > 0 && !(this.bySize[this.maxSize]?.size ?? 0)) this.maxSize--;
  }

  private forgetOld(now: number): void {
    // Insertion order = forget order: every value is its insertion time + 2·skew.
    for (const [k, until] of this.expiry) {
      if (until > now) break;
      this.expiry.delete(k);
      const cut = k.lastIndexOf(':');
      const id = k.slice(0, cut);
      const q = this.queues.get(id);
      if (!q) continue;
      const tail = k.slice(cut + 1);
      if (tail === 'floor') {
        if (q.ts.size === 0) this.queues.delete(id);
        continue;
      }
      this.resize(id, q.ts.size, q.ts.size - 1);
      q.ts.delete(Number(tail));
      this.entries--;
      if (q.ts.size === 0) this.emptied(id, q, now);
    }
  }
}

/**
 * GET /api/v1/queue/status?id=&timestamp=&sig= — the low-power poll. Answers
 * only `{"has_payload": bool}`. Check order: shape → skew → signature → replay,
 * so a forged request can never fill the replay memory.
 */
export class StatusEndpoint {
  private readonly replay: ReplayMemory;

  constructor(
    private readonly db: RelayDb,
    private readonly clock: Clock,
    private readonly log: Log,
    private readonly opts: StatusOptions,
  ) {
    this.replay = new ReplayMemory(opts.skewMs, opts.maxReplayEntries, opts.maxReplayEntriesPerQueue);
  }

  /** Remembered (id, timestamp) pairs (tests). */
  replayEntries(): number {
    return this.replay.size;
  }

  handle(req: IncomingMessage, res: ServerResponse, url: URL): void {
    const reply = (status: number, body: object) => {
      res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify(body));
    };
    if (req.method !== 'GET') return reply(405, { error: 'PROTO_UNKNOWN_COMMAND' });
    const id = url.searchParams.get('id') ?? '';
    const tsText = url.searchParams.get('timestamp') ?? '';
    const sig = url.searchParams.get('sig') ?? '';
    if (!ID_RE.test(id) || !TS_RE.test(tsText) || !SIG_RE.test(sig)) return reply(400, { error: 'PROTO_MALFORMED' });
    const ts = Number(tsText);
    const now = this.clock.now();
    if (Math.abs(now - ts) > this.opts.skewMs) {
      this.log.log('info', 'rt', 'status refused: stale timestamp', { skewMs: now - ts });
      return reply(401, { error: 'PROTO_STALE' });
    }
    // Unknown queue and bad signature look the same: no queue-existence oracle.
    const q = this.db.getQueue(id);
    if (!q || !q.recipientKey || !verifyStatusSignature(q.recipientKey, id, ts, sig)) {
      this.log.log('info', 'rt', 'status refused: bad signature');
      return reply(401, { error: 'PROTO_AUTH' });
    }
    // Keyed by (id, timestamp), not the signature bytes: a re-encoded signature cannot slip past.
    const seen = this.replay.accept(id, ts, now);
    if (seen === 'replay') {
      this.log.log('info', 'rt', 'status refused: replay');
      return reply(401, { error: 'PROTO_REPLAY' });
    }
    if (seen === 'busy') return reply(503, { error: 'PROTO_BUSY' });
    return reply(200, { has_payload: this.db.firstMessage(id) !== undefined });
  }
}
