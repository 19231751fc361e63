import { ErrorCodes, NsekitError, type ErrorCode } from '../../errors.js';
import type { TimerHandle } from '../../host.js';
import { statusRequestPath } from '../../protocol/index.js';
import { hexBytes, type SessionRuntime } from '../runtime.js';

/**
 * Low-power mode: no SUB and no socket kept open for delivery. While the app
 * is open it polls the relay's signed status endpoint per queue (Ed25519 over
 * "id:timestamp" with the queue's status key) and fetches only the queues
 * that report `has_payload`. In background the poll stops (network is gated);
 * pushes → NSE cover that time.
 */
export class LowPowerPoller {
  private timer: TimerHandle | null = null;
  private running = false;
  /** Resolved by stop(): a status request in flight is abandoned then (see hasPayload). */
  private stopWaiters: (() => void)[] = [];
  /** Fetch one queue (the app's bounded GET batches). */
  fetchQueue: (queueId: string) => Promise<void> = async () => {};

  constructor(
    private readonly rt: SessionRuntime,
    private readonly intervalMs = 1_000,
  ) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.arm(0);
  }

  stop(): void {
    this.running = false;
    for (const w of this.stopWaiters.splice(0)) w();
    if (this.timer !== null) this.rt.host.clock.clearTimer(this.timer);
    this.timer = null;
  }

  private arm(ms: number): void {
    this.timer = this.rt.host.clock.setTimer(ms, () => void this.tick());
  }

  /** Polling (started by a wake, not stopped since). */
  get active(): boolean {
    return this.running;
  }

  /**
   * One status request: true if the relay holds a message for `queueId`. `abandonOnStop` (the
   * poll loop's own requests): stop() abandons it in flight (answer false). A background
   * window asks with the poller stopped and waits for its answer.
   */
  async hasPayload(queueId: string, abandonOnStop = false): Promise<boolean> {
    const q = this.rt.queueCfg.get(queueId);
    if (!q?.statusKey) return true; // no key: cannot ask, so fetch
    const path = statusRequestPath(hexBytes(q.statusKey, 'statusKey'), queueId, this.rt.host.clock.now());
    const status = this.rt.ports.status;
    if (!status) return true; // no status endpoint on this host: fetch
    // Leaving the foreground stops polling and waits for receives in flight: a request hanging on a
    // partitioned network (up to its 10 s timeout) would hold the suspension and every later
    // command. So stop() abandons it — a poll only reads, so nothing is lost; the answer is ignored.
    if (abandonOnStop && !this.running) return false;
    let waiter: () => void = () => {};
    const stopped = new Promise<null>((resolve) => {
      if (abandonOnStop) this.stopWaiters.push((waiter = () => resolve(null)));
    });
    const res = await Promise.race([status.get(path), stopped]).finally(() => {
      this.stopWaiters = this.stopWaiters.filter((w) => w !== waiter);
    });
    if (res === null) {
      this.rt.log('info', 'sync', 'status poll abandoned: polling stopped', { queueId });
      return false;
    }
    const body = (typeof res.body === 'object' && res.body !== null ? res.body : {}) as { has_payload?: boolean; error?: string };
    if (res.status < 200 || res.status > 299) {
      // The endpoint answers {error: CODE} (stale, replay, bad signature…): keep its code.
      const code = (Object.values(ErrorCodes) as string[]).includes(body.error ?? '') ? (body.error as ErrorCode) : 'PROTO_INTERNAL';
      throw new NsekitError(code, `status poll refused: HTTP ${res.status}`, { queueId, status: res.status });
    }
    return body.has_payload === true;
  }

  private async tick(): Promise<void> {
    this.timer = null;
    if (!this.running) return;
    if (this.rt.phase.phase === 'active') {
      for (const queueId of this.rt.queueCfg.keys()) {
        // Stopped (the app left the foreground) while an earlier queue was polled or fetched: the
        // rest waits for the next wake — a background window re-opening the gates is not one
        // (explore seed 424242 run 493).
        if (!this.running || this.rt.phase.phase !== 'active') break;
        try {
          const has = await this.rt.phase.run('receiveNetwork', () => this.hasPayload(queueId, true));
          this.rt.emit('sync', { stage: 'poll', queueId, hasPayload: has });
          if (has && this.running) {
            // No SUB keeps the socket up in this mode: a dropped connection (relay restart,
            // partition) is reopened here, or every later fetch fails with PROTO_CLOSED.
            await this.rt.phase.run('receiveNetwork', () => this.rt.ensureConnected());
            await this.fetchQueue(queueId);
          }
        } catch (e) {
          this.rt.log('warn', 'sync', 'status poll failed', { queueId, error: String(e) });
        }
      }
    }
    if (this.running) this.arm(this.intervalMs);
  }
}
