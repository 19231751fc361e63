/**
 * NSE notification requests: each didReceiveNotification runs the inbound
 * pipeline for its queues and ends in exactly one contentReady — normally when
 * the queues are fetched, earlier when the forced-delivery timer, the expiry
 * callback or a yield cuts it short (best-attempt content: what was shown so far).
 */
import { fromBase64, fromHex } from '../bytes.js';
import { isNsekitError, NsekitError } from '../errors.js';
import type { Host, NotificationContent, TimerHandle } from '../host.js';
import { GENERIC_TITLE, fetchAndProcess, type InboundDeps } from '../inbound/index.js';
import { openNotificationId } from '../protocol/notification-id.js';
import type { QueueCoordinator } from '../queue/index.js';
import type { BridgeHost, NotificationResult, WireContent } from './contract.js';

export interface NotificationRequest {
  /** Swift's id for this UNNotificationRequest (request.identifier). */
  requestId: string;
  /** Queues to fetch, in order. */
  queueIds?: string[];
  /** Sealed notification ids from the push payload (mapped to queues via config.notifiers). */
  nids?: { notifierId: string; sealed: string }[];
}

interface Pending {
  requestId: string;
  messages: WireContent[];
  errors: string[];
  locked: boolean;
  delivered: NotificationResult | null;
  timer: TimerHandle | null;
}

export interface RequestDeps {
  bridge: BridgeHost;
  host: Host;
  queues: QueueCoordinator;
  /** Inbound deps for the current lock state (store null while locked). */
  inbound(notifier: InboundDeps['notifier']): InboundDeps;
  isLocked(): boolean;
  notifiers: Record<string, { queueId: string; key: Uint8Array }>;
  maxExtraGets: number;
  forcedDeliveryMs: number;
  /** The forced-delivery timer fired: the facade delivers everything and suspends at once. */
  onForced(): void;
}

function resultOf(p: Pending, status: NotificationResult['status']): NotificationResult {
  const last = p.messages[p.messages.length - 1];
  return {
    requestId: p.requestId,
    status,
    title: last ? last.title : GENERIC_TITLE,
    body: last ? last.body : '',
    messages: p.messages.slice(),
    errors: p.errors.slice(),
  };
}

export function checkRequest(req: unknown): NotificationRequest {
  const r = req as Partial<NotificationRequest> | null;
  if (!r || typeof r !== 'object' || typeof r.requestId !== 'string' || !r.requestId) {
    throw new NsekitError('BRIDGE_BAD_INPUT', 'didReceiveNotification needs {requestId, queueIds | nids}');
  }
  const qs = r.queueIds ?? [];
  const nids = r.nids ?? [];
  if (!Array.isArray(qs) || !qs.every((q) => typeof q === 'string' && q)) {
    throw new NsekitError('BRIDGE_BAD_INPUT', 'queueIds must be non-empty strings', { requestId: r.requestId });
  }
  if (!Array.isArray(nids) || !nids.every((n) => n && typeof n.notifierId === 'string' && typeof n.sealed === 'string')) {
    throw new NsekitError('BRIDGE_BAD_INPUT', 'nids must be {notifierId, sealed}', { requestId: r.requestId });
  }
  if (qs.length + nids.length === 0) {
    throw new NsekitError('BRIDGE_BAD_INPUT', 'no queueIds or nids', { requestId: r.requestId });
  }
  return { requestId: r.requestId, queueIds: qs, nids };
}

export class NseRequests {
  private readonly pending = new Map<string, Pending>();
  constructor(private readonly d: RequestDeps) {}

  get outstanding(): number {
    return this.pending.size;
  }

  /** Queue ids for the request: explicit ones first, then those the sealed nids name (deduplicated). */
  private queuesFor(req: NotificationRequest, p: Pending): string[] {
    const out = [...(req.queueIds ?? [])];
    for (const n of req.nids ?? []) {
      const nf = this.d.notifiers[n.notifierId];
      const sealed = fromBase64(n.sealed);
      try {
        if (!nf) throw new NsekitError('PROTO_NO_QUEUE', `unknown notifierId ${n.notifierId}`);
        if (!sealed) throw new NsekitError('PROTO_MALFORMED', 'nid is not base64');
        openNotificationId(nf.key, n.notifierId, sealed);
        out.push(nf.queueId);
      } catch (e) {
        const code = isNsekitError(e) ? e.code : 'BRIDGE_HOST_ERROR';
        p.errors.push(code);
        this.d.host.log.log('warn', 'nse', 'notification id rejected', { notifierId: n.notifierId, code });
      }
    }
    return out.filter((q, i) => out.indexOf(q) === i);
  }

  async handle(req: NotificationRequest): Promise<NotificationResult> {
    const { host } = this.d;
    if (this.pending.has(req.requestId)) {
      throw new NsekitError('BRIDGE_BAD_INPUT', `request ${req.requestId} is already in progress`);
    }
    const p: Pending = { requestId: req.requestId, messages: [], errors: [], locked: this.d.isLocked(), delivered: null, timer: null };
    this.pending.set(req.requestId, p);
    // The expiry callback is unreliable: deliver on our own clock before iOS gives up.
    p.timer = host.clock.setTimer(this.d.forcedDeliveryMs, () => {
      p.timer = null;
      host.log.log('warn', 'nse', 'forced delivery timer fired', { requestId: p.requestId });
      this.d.onForced();
    });
    const notifier = {
      show: async (c: NotificationContent) => {
        if (p.delivered) {
          host.log.log('warn', 'nse', 'content after delivery dropped', { requestId: p.requestId, msgId: c.msgId });
          return;
        }
        p.messages.push({ msgId: c.msgId, queueId: c.queueId, title: c.title, body: c.body });
      },
    };
    for (const queueId of this.queuesFor(req, p)) {
      if (p.delivered) break;
      try {
        const deps = this.d.inbound(notifier);
        p.locked = p.locked || deps.store === null;
        await fetchAndProcess(deps, this.d.queues, queueId, { maxExtraGets: this.d.maxExtraGets });
      } catch (e) {
        const code = isNsekitError(e) ? e.code : 'BRIDGE_HOST_ERROR';
        p.errors.push(code);
        host.log.log('warn', 'nse', 'queue fetch failed', { requestId: p.requestId, queueId, code });
      }
    }
    return this.deliver(p, p.errors.length ? 'partial' : p.locked ? 'locked' : 'complete');
  }

  /** Deliver every outstanding request now (expiry, yield). */
  deliverAll(status: NotificationResult['status']): void {
    for (const p of [...this.pending.values()]) this.deliver(p, status);
  }

  private deliver(p: Pending, status: NotificationResult['status']): NotificationResult {
    if (p.delivered) return p.delivered;
    if (p.timer !== null) this.d.host.clock.clearTimer(p.timer);
    p.timer = null;
    p.delivered = resultOf(p, status);
    this.pending.delete(p.requestId);
    try {
      this.d.bridge.contentReady(p.requestId, p.delivered);
    } catch (e) {
      this.d.host.log.log('error', 'nse', 'contentReady threw', { error: String(e) });
    }
    this.onIdle?.();
    return p.delivered;
  }

  /** Called after every delivery; the facade uses it to start the grace timer. */
  onIdle: (() => void) | null = null;
}

export function notifierKeys(cfg: Record<string, { queueId: string; keyHex: string }> | undefined) {
  const out: Record<string, { queueId: string; key: Uint8Array }> = {};
  for (const [id, v] of Object.entries(cfg ?? {})) {
    const key = fromHex(v.keyHex);
    if (!key || key.length !== 32) throw new NsekitError('BRIDGE_BAD_INPUT', `notifier ${id}: keyHex must be 64 hex chars`);
    out[id] = { queueId: v.queueId, key };
  }
  return out;
}
