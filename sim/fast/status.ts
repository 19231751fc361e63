/**
 * The fast relay's signed status endpoint (docs/protocol.md "Signed status endpoint"): the
 * answer the app's low-power poll gets through the same port the Node host plugs in
 * (`StatusClient.get(path)`, src/node/session-ports.ts's `httpStatusClient`), so the shipping
 * `LowPowerPoller` runs unchanged — in front it fetches only the queues that hold something,
 * and a background window posts its local notification only when the relay holds a message.
 *
 * Same checks, same answers as src/relay/status-endpoint.ts, in the same order: a malformed
 * request 400 PROTO_MALFORMED; a timestamp off the relay's (virtual) clock by more than the
 * skew 401 PROTO_STALE; a queue without a registered key 401 PROTO_AUTH; the same (id,
 * timestamp) twice 401 PROTO_REPLAY; else 200 `{has_payload}` from the relay's queues (at
 * least one un-ACKed message). One difference, as everywhere in the fast relay (credentials
 * are not checked): the Ed25519 signature is checked for its shape, not verified — a verify
 * costs ~2 ms of real CPU per poll, more than a whole fast run spends elsewhere; the real
 * relay's verification is tested against forged and replayed requests in test/relay/status.test.ts.
 * The request crosses the network like any other (seeded latency each way); while the relay is
 * partitioned it fails with PROTO_CLOSED, as the Node client's fetch does.
 */
import { NsekitError } from '../../src/core/errors.js';
import type { StatusClient } from '../../src/core/session/index.js';
import type { ProcCtx } from './proc-ctx.js';
import type { SimRelay } from './relay.js';
import type { Scheduler } from './scheduler.js';

/** The real relay's default skew (src/relay/status-endpoint.ts DEFAULT_STATUS). */
const SKEW_MS = 300_000;
const PATH = '/api/v1/queue/status';
const ID_RE = /^[A-Za-z0-9_-]{1,64}$/;
const TS_RE = /^[0-9]{1,16}$/;
const SIG_RE = /^[0-9a-fA-F]{128}$/;

type Answer = { status: number; body: unknown };
const refuse = (status: number, error: string): Answer => ({ status, body: { error } });

/** The endpoint itself: one per relay (its replay memory survives nothing but the run). */
export class SimStatusEndpoint {
  /** Queues with a registered status key (NEW {recipientKey}); the others are refused PROTO_AUTH. */
  readonly keyed = new Set<string>();
  /** Accepted (id, timestamp) pairs, per queue. */
  private readonly seen = new Map<string, Set<number>>();
  /** Requests answered, by outcome (for tests and reports). */
  readonly answered = { hasPayload: 0, empty: 0, refused: 0 };

  constructor(
    private readonly relay: SimRelay,
    private readonly sched: Scheduler,
  ) {}

  answer(path: string): Answer {
    const q = path.indexOf('?');
    if (q < 0 || path.slice(0, q) !== PATH) return this.count(refuse(404, 'PROTO_UNKNOWN_COMMAND'));
    const params = new URLSearchParams(path.slice(q + 1));
    const id = params.get('id') ?? '';
    const ts = params.get('timestamp') ?? '';
    const sig = params.get('sig') ?? '';
    if (!ID_RE.test(id) || !TS_RE.test(ts) || !SIG_RE.test(sig)) return this.count(refuse(400, 'PROTO_MALFORMED'));
    const t = Number(ts);
    if (Math.abs(this.sched.now - t) > SKEW_MS) return this.count(refuse(401, 'PROTO_STALE'));
    if (!this.keyed.has(id)) return this.count(refuse(401, 'PROTO_AUTH'));
    let seen = this.seen.get(id);
    if (!seen) this.seen.set(id, (seen = new Set()));
    if (seen.has(t)) return this.count(refuse(401, 'PROTO_REPLAY'));
    seen.add(t);
    const has = (this.relay.queues.get(id)?.length ?? 0) > 0;
    if (has) this.answered.hasPayload++;
    else this.answered.empty++;
    return { status: 200, body: { has_payload: has } };
  }

  private count(a: Answer): Answer {
    this.answered.refused++;
    return a;
  }

  /**
   * One process's HTTP client for it: a request and its answer each cross the network. Recorded
   * as a network op (`status.poll`, sim/checkers/gates.ts): its invoke when the request starts
   * (the phase it started in), its ok with the answer.
   */
  client(ctx: ProcCtx): StatusClient {
    return {
      get: async (path: string): Promise<Answer> => {
        const queueId = /[?&]id=([^&]*)/.exec(path)?.[1] ?? null;
        ctx.record('invoke', 'status.poll', { queueId });
        try {
          await this.sched.delay(ctx.owner, this.relay.latency());
          if (this.relay.partitioned) throw new NsekitError('PROTO_CLOSED', 'status poll failed: relay unreachable');
          const a = this.answer(path);
          await this.sched.delay(ctx.owner, this.relay.latency());
          if (this.relay.partitioned) throw new NsekitError('PROTO_CLOSED', 'status poll failed: connection lost before the reply');
          ctx.record('ok', 'status.poll', { queueId, status: a.status, ...(a.status === 200 ? (a.body as object) : {}) });
          return a;
        } catch (e) {
          ctx.record('fail', 'status.poll', { queueId }, { error: (e as NsekitError).code ?? String(e) });
          throw e;
        }
      },
    };
  }
}
