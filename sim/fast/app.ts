/**
 * The app's behaviour in the fast mode, following src/app/app.ts: lifecycle
 * commands applied one at a time; every return to the foreground runs the
 * wake sequence (import the pending inbox, fetch each queue in bounded GET
 * batches, then SUB — or poll in low-power mode); background drops the SUBs
 * while the network is still open, then blocks network classes; expiry
 * backgrounds and suspends (store closed, lock released).
 */
import { isNsekitError } from '../../src/core/errors.js';
import type { RelayMessage, TimerHandle } from '../../src/core/host.js';
import { fetchAndProcess, processInbound } from '../../src/core/inbound/index.js';
import type { SimProc } from './proc.js';

export type AppEvent = 'active' | 'background' | 'expiring' | 'lock' | 'unlock' | 'online';

export class SimApp {
  private chain: Promise<unknown> = Promise.resolve();
  private subscribed = new Set<string>();
  private pollTimer: TimerHandle | null = null;
  private readonly maxBatch = 20;
  private readonly maxBatches = 10;
  /** Bumped (unserialized) by every background/expiring command. */
  private leaveGen = 0;

  constructor(
    readonly p: SimProc,
    private readonly queueIds: string[],
    private readonly mode: 'instant' | 'low-power',
    private readonly expiryDeadlineMs: number,
    private readonly pollMs: number,
    private readonly onSuspended: () => void,
  ) {}

  /** Run `fn` after every earlier command (lifecycle is strictly ordered). */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const r = this.chain.then(fn, fn);
    this.chain = r.catch((e) => this.error('app', e));
    return r;
  }

  /** Apply `ev` after every earlier command; `applied` runs once it has taken effect (for 'active': activated, before the wake). */
  lifecycle(ev: AppEvent, applied?: () => void): Promise<void> {
    // Leaving the foreground cuts a running wake sequence short at its next step instead of
    // queueing behind it: the NSE may start fetching right away.
    if (ev === 'background' || ev === 'expiring') this.leaveGen++;
    return this.serial(() => this.apply(ev, applied)).finally(() => applied?.());
  }

  private async apply(ev: AppEvent, applied?: () => void): Promise<void> {
    const { p } = this;
    switch (ev) {
      case 'active':
        await p.phase.activate();
        applied?.();
        await this.wake();
        return;
      case 'online':
        await this.wake();
        return;
      case 'background':
        await this.goBackground();
        return;
      case 'expiring':
        await this.goBackground();
        await p.phase.suspend(this.expiryDeadlineMs);
        this.onSuspended();
        return;
      case 'lock':
        p.lockDevice();
        return;
      case 'unlock':
        p.unlock();
        if (p.phase.phase === 'active') await p.importInbox();
        return;
    }
  }

  private async goBackground(): Promise<void> {
    const { p } = this;
    if (p.phase.phase !== 'active') return;
    this.stopPolling();
    for (const q of this.subscribed) await p.queues.unsubscribe(q);
    this.subscribed.clear();
    p.phase.background();
  }

  /** The wake sequence (src/app/app.ts `wake`); returns early if the app is sent away meanwhile. */
  private async wake(): Promise<void> {
    const { p } = this;
    if (p.phase.phase !== 'active') return;
    const gen = this.leaveGen;
    const stale = () => gen !== this.leaveGen;
    if (!p.store.isOpen) p.store.open();
    if (p.unlocked) await p.importInbox();
    if (stale()) return;
    for (const q of this.subscribed) await p.queues.unsubscribe(q);
    this.subscribed.clear();
    for (const q of this.queueIds) {
      if (stale()) return;
      await this.fetchQueue(q, stale);
    }
    if (stale()) return;
    if (this.mode === 'instant') {
      for (const q of this.queueIds) {
        await p.queues.subscribe(q, (m) => void this.delivered(m));
        this.subscribed.add(q);
      }
    } else this.startPolling();
  }

  /** One GET→store→ACK at a time, so a lifecycle change stops the fetch after the message in flight. */
  async fetchQueue(queueId: string, stop: () => boolean = () => false): Promise<number> {
    let merged = 0;
    let budget = this.maxBatch * this.maxBatches * 2;
    for (let b = 0; b < this.maxBatches && !stop(); b++) {
      let n = 0;
      let drained = false;
      while (n < this.maxBatch && !stop() && budget-- > 0) {
        let one;
        try {
          one = await fetchAndProcess(this.p.inboundDeps(), this.p.queues, queueId, { maxExtraGets: 0 });
        } catch (e) {
          // Another process ACKed the same message first: it is stored (dedupe), go on.
          if (isNsekitError(e, 'PROTO_NO_MSG')) continue;
          throw e;
        }
        if (one.length === 0) {
          drained = true;
          break;
        }
        n += one.length;
        merged += one.filter((o) => o.stored !== 'duplicate').length;
      }
      if (drained || budget <= 0) break;
    }
    return merged;
  }

  /** A SUB delivery: store, then ACK under the receive gate (src/device/runtime.ts handleDelivered). */
  private async delivered(m: RelayMessage): Promise<void> {
    const { p } = this;
    try {
      await processInbound(p.inboundDeps(), m);
      await p.phase.run('receiveNetwork', () => p.transport.ack(m.queueId, m.msgId));
    } catch (e) {
      this.error('sub delivery', e);
    }
  }

  private startPolling(): void {
    this.stopPolling();
    const tick = () => {
      this.pollTimer = null;
      if (this.p.phase.phase !== 'active') return;
      void this.serial(async () => {
        for (const q of this.queueIds) await this.fetchQueue(q);
      })
        .catch(() => {}) // recorded by the chain
        .finally(() => {
        if (this.p.phase.phase === 'active' && this.pollTimer === null) this.pollTimer = this.p.ctx.clock.setTimer(this.pollMs, tick);
      });
    };
    this.pollTimer = this.p.ctx.clock.setTimer(this.pollMs, tick);
  }
  private stopPolling(): void {
    if (this.pollTimer !== null) this.p.ctx.clock.clearTimer(this.pollTimer);
    this.pollTimer = null;
  }

  private error(where: string, e: unknown): void {
    const code = isNsekitError(e) ? e.code : 'INTERNAL';
    this.p.ctx.record('info', 'error', { where, code, message: e instanceof Error ? e.message : String(e) });
  }
}
