import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Clock, Log } from '../core/host.js';
import { verifyStatusSignature } from '../core/protocol/status-sig.js';
import type { RelayDb } from './db.js';

export interface StatusOptions {
  /** Largest accepted |now - timestamp|, ms (default 300 000). */
  skewMs: number;
  /** Bound on remembered accepted (id, timestamp) pairs; beyond it requests get 503 PROTO_BUSY. */
  maxReplayEntries: number;
}

export const DEFAULT_STATUS: StatusOptions = { skewMs: 300_000, maxReplayEntries: 100_000 };

const ID_RE = /^[A-Za-z0-9_-]{1,64}$/;
const TS_RE = /^[0-9]{1,16}$/;
const SIG_RE = /^[0-9a-fA-F]{128}$/;

/**
 * GET /api/v1/queue/status?id=&timestamp=&sig= — the low-power poll. Answers
 * only `{"has_payload": bool}`. Check order: shape → skew → signature → replay,
 * so a forged request can never fill the replay memory.
 */
export class StatusEndpoint {
  /** key → forget-after (ms). Insertion order = forget order, because forget-after = now + 2·skew. */
  private readonly seen = new Map<string, number>();

  constructor(
    private readonly db: RelayDb,
    private readonly clock: Clock,
    private readonly log: Log,
    private readonly opts: StatusOptions,
  ) {}

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
    this.forgetOld(now);
    // Keyed by id:timestamp (not the signature bytes): a re-encoded signature cannot slip past.
    const key = `${id}:${ts}`;
    if (this.seen.has(key)) {
      this.log.log('info', 'rt', 'status refused: replay');
      return reply(401, { error: 'PROTO_REPLAY' });
    }
    if (this.seen.size >= this.opts.maxReplayEntries) return reply(503, { error: 'PROTO_BUSY' });
    this.seen.set(key, now + 2 * this.opts.skewMs);
    return reply(200, { has_payload: this.db.firstMessage(id) !== undefined });
  }

  private forgetOld(now: number): void {
    for (const [k, until] of this.seen) {
      if (until > now) break;
      this.seen.delete(k);
    }
  }
}
