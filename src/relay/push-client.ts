import type { PushNid } from '../core/protocol/notification-id.js';

/** Outcome of handing one bundle to the push gateway. */
export type PushResult = 'accepted' | 'invalid' | 'retry';

/** How the relay reaches a push gateway (HTTP in production and tests; fakeable). */
export interface PushSender {
  push(token: string, nids: PushNid[]): Promise<PushResult>;
  close?(): void;
}

/**
 * POSTs `{token, type: 'alert', payload: {nids}}` to `<gatewayUrl>/push`.
 * 2xx → accepted; 400/410 (bad or deactivated token) → invalid, the relay
 * drops the token; anything else, including network errors → retry later.
 */
export class HttpPushSender implements PushSender {
  private readonly inflight = new Set<AbortController>();

  constructor(
    private readonly gatewayUrl: string,
    private readonly timeoutMs = 10_000,
  ) {}

  async push(token: string, nids: PushNid[]): Promise<PushResult> {
    const ac = new AbortController();
    this.inflight.add(ac);
    const timer = setTimeout(() => ac.abort(), this.timeoutMs);
    try {
      const res = await fetch(`${this.gatewayUrl.replace(/\/$/, '')}/push`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ token, type: 'alert', payload: { nids } }),
        signal: ac.signal,
      });
      await res.arrayBuffer().catch(() => undefined);
      if (res.ok) return 'accepted';
      if (res.status === 400 || res.status === 410) return 'invalid';
      return 'retry';
    } catch {
      return 'retry';
    } finally {
      clearTimeout(timer);
      this.inflight.delete(ac);
    }
  }

  /** Abort requests in flight (relay shutdown): their bundles stay pending in the DB. */
  close(): void {
    for (const ac of this.inflight) ac.abort();
  }
}
