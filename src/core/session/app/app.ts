import { isNsekitError, NsekitError } from '../../errors.js';
import type { InboundOutcome } from '../../inbound/index.js';
import { BackgroundTime } from './background-time.js';
import { fetchQueueBatches } from './fetch-queue.js';
import { BackgroundWindows, type WindowResult } from './background-window.js';
import type { LifecycleMsg, SettingsMsg, WindowMsg } from '../commands.js';
import type { SessionConfig } from '../config.js';
import type { SessionRuntime } from '../runtime.js';
import { LowPowerPoller } from './low-power.js';
import { Outbox } from './outbox.js';
import { PushTokens } from './push-token.js';
import { Realtime, realtimeOptionsOf } from './realtime.js';
import { ReadSender } from './read-send.js';
import { RefreshTask } from './refresh.js';
import { appStatus } from './status.js';

/** `tap`: brought to the front by a tap on a notification, routed to its thread (docs/notifications.md "Tap"); `login`: the user logged in again. */
export type WakeReason = 'resume' | 'online' | 'tap' | 'login';

/**
 * The app session (docs/processes.md "The app"). Lifecycle commands are applied one at a time, in order.
 * Every return to the foreground (and every reconnect) runs the wake sequence:
 *   writes-ready check → [rt] rebuild → [sync] fetch missed per queue in
 *   bounded batches → (re)subscribe / start polling → [outbox] drain.
 */
export class App {
  readonly realtime: Realtime;
  readonly poller: LowPowerPoller;
  readonly outbox: Outbox;
  readonly tokens: PushTokens;
  readonly refresh: RefreshTask;
  readonly windows: BackgroundWindows;
  private readonly bgTime: BackgroundTime;
  /** In front: its `active` applied and not left since (the phase alone cannot tell: a background window is `active` too). */
  private front = false;
  readonly mode: NonNullable<SessionConfig['mode']>;
  private chain: Promise<unknown> = Promise.resolve();
  private readonly maxBatch: number;
  private readonly maxBatches = 10;
  /** Bumped (unserialized) by every background/suspend/expiring command. */
  private leaveGen = 0;
  /** Bumped (unserialized) by every suspend/expiring command: writes are no longer retried for a send queued before. */
  private suspendGen = 0;

  constructor(private readonly rt: SessionRuntime) {
    const cfg = rt.cfg;
    this.mode = cfg.mode ?? 'instant';
    this.maxBatch = Math.max(1, cfg.syncMaxBatch ?? 20);
    this.realtime = new Realtime(rt, realtimeOptionsOf(cfg));
    this.realtime.onOnline = () => void this.serial(() => this.safeWake('online'));
    this.poller = new LowPowerPoller(rt, cfg.pollIntervalMs ?? 1_000);
    // A poll's fetch stops (before its next GET) once the app leaves the foreground: a GET left
    // waiting at the closed gate would go out when a background window opens it again, beside the
    // NSE's (explore seed 424242 run 493).
    this.poller.fetchQueue = (q) => {
      const gen = this.leaveGen;
      return this.fetchQueue(q, () => gen !== this.leaveGen || !this.poller.active || rt.phase.phase !== 'active').then(() => {});
    };
    this.outbox = new Outbox(rt);
    this.tokens = new PushTokens(rt, rt.ports.pushToken);
    // A new token from the OS is registered at once while in front (else at the next wake).
    this.tokens.onChange = () => {
      if (rt.phase.phase !== 'active') return;
      void this.serial(async () => {
        if (rt.phase.phase !== 'active') return;
        await rt.phase.run('receiveNetwork', () => rt.ensureConnected());
        await this.tokens.ensure('change');
      }).catch((e) => rt.errorEvent('push token', e));
    };
    this.refresh = new RefreshTask(rt);
    // A tap's read goes to the user's other devices (docs/notifications.md "Read on another device").
    const reads = new ReadSender(rt);
    rt.presenter.afterOpen = (queueId, upTo) => reads.send(queueId, upTo);
    this.bgTime = new BackgroundTime(rt, (m) => this.onLifecycle(m).catch((e: unknown) => rt.errorEvent(`lifecycle ${m.event}`, e)));
    this.windows = new BackgroundWindows({
      rt,
      outbox: this.outbox,
      poller: this.poller,
      refresh: this.refresh,
      mode: this.mode,
      inFront: () => this.front,
      activeCount: () => this.activeCount,
    });
    // The outbox's retry timer drains in the lifecycle order too (never beside a lock or a suspension).
    this.outbox.runSerial = (fn) => this.serial(fn);
    // A SUB delivery that could not be made durable is still in flight at the relay, which sends nothing
    // more on that SUB: a wake (through the realtime backoff) drops the SUB, GETs the queue and SUBs again.
    rt.onDeliveryFailed = (queueId) => {
      if (rt.phase.phase === 'active' && this.mode === 'instant') this.realtime.retry(`delivery on ${queueId} not ACKed`);
    };
    // Imports run in the lifecycle order (no `lock` can wipe the key in the middle of one).
    // What it imports is unread too: the badge follows (as after the import at unlock; explore seed 2 run 17507).
    rt.onInboxAppendedUnlocked = () =>
      void this.serial(async () => {
        if ((await rt.importInbox()) > 0 && rt.phase.phase === 'active') await rt.presenter.publishBadge();
      }).catch((e) => rt.errorEvent('inbox import', e));
  }

  /** Run `fn` after every earlier command (lifecycle is strictly ordered). The caller reports failures. */
  serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.chain.then(fn, fn);
    this.chain = p.catch(() => {});
    return p;
  }

  /**
   * Apply `m` after every earlier command. `applied` runs once it has taken
   * effect — for `active`, once the app is active, before its wake sequence.
   */
  onLifecycle(m: LifecycleMsg, applied?: () => void): Promise<void> {
    // Numbered in the order received: a `suspended` report names the command it answers, so the
    // host freezes the app only once it has answered the newest one (see reportSuspended).
    const seq = ++this.received;
    // Leaving the foreground cuts a running wake sequence short at its next step
    // instead of queueing behind it: the NSE may start fetching right away.
    if (m.event === 'background' || m.event === 'suspend' || m.event === 'expiring') this.leaveGen++;
    if (m.event === 'suspend' || m.event === 'expiring') {
      this.suspendGen++;
      // Normally applied in order (background first: UNSUB, drain). If the suspension has not begun
      // at half the deadline (an earlier command, or this one's UNSUB, stuck on the network), begin it.
      const deadlineMs = m.deadlineMs ?? (m.event === 'expiring' ? (this.rt.cfg.appExpiryDeadlineMs ?? 1_000) : 0);
      // (Only with a deadline: `suspend` with none is applied in order, its drain forced at once.)
      const actives = this.activeCount;
      const guard = deadlineMs <= 0 ? null : this.rt.host.clock.setTimer(Math.floor(deadlineMs / 2), () => {
        const p = this.rt.phase.phase;
        // Not if the user brought the app back meanwhile (an `active` queued after this command).
        if (p !== 'suspending' && p !== 'suspended' && actives === this.activeCount) this.suspendNow(m, deadlineMs - Math.floor(deadlineMs / 2), seq);
      });
      const inner = applied;
      applied = () => {
        if (guard !== null) this.rt.host.clock.clearTimer(guard);
        inner?.();
      };
    }
    // Undo that the same way: a command still queued from before the suspension (a wake whose
    // next step waits for a class the suspension blocked) would otherwise hold this one back.
    if (m.event === 'active') this.activeCount++;
    if (m.event !== 'lock' && m.event !== 'unlock') this.bgTime.clear();
    if (m.event === 'active' && this.suspendedAhead) {
      this.suspendedAhead = false;
      void this.rt.phase.activate().catch((e: unknown) => this.rt.errorEvent('lifecycle active', e));
    }
    // A wake is for the foreground as of this command: a leave received after it (even before the
    // wake starts, behind a slow command) makes it stale, so the NSE is never GETting beside it.
    const gen = this.leaveGen;
    const actives = this.activeCount;
    return this.serial(() => this.apply(m, applied, gen, seq, actives)).finally(() => applied?.());
  }

  private async apply(m: LifecycleMsg, applied: (() => void) | undefined, gen: number, seq: number, actives: number): Promise<void> {
    const { rt } = this;
    rt.log('info', 'phase', `lifecycle ${m.event}`, { from: rt.phase.phase });
    switch (m.event) {
      case 'active': {
        await rt.phase.activate();
        this.front = true;
        applied?.();
        // The foreground app wins: whoever holds the shared lock (the NSE) yields.
        rt.lock.requestYield();
        await this.safeWake(m.thread !== undefined ? 'tap' : 'resume', gen, seq);
        // A tap opens its conversation once the wake fetched it (not if the user left meanwhile).
        if (m.thread !== undefined && gen === this.leaveGen && rt.phase.phase === 'active') await rt.presenter.openThread(m.thread);
        return;
      }
      case 'background':
        await this.goBackground();
        // Unless a later command (the front again, a suspension) is already on its way.
        if (gen === this.leaveGen && actives === this.activeCount && this.rt.phase.phase === 'background') this.bgTime.left(m);
        return;
      case 'expiring':
      case 'suspend': {
        await this.goBackground();
        await rt.phase.suspend(m.deadlineMs ?? (m.event === 'expiring' ? (rt.cfg.appExpiryDeadlineMs ?? 1_000) : 0));
        rt.reportSuspended(seq);
        return;
      }
      case 'lock':
        await rt.lockDevice();
        return;
      case 'unlock': {
        if (!m.masterKey) throw new NsekitError('CRYPTO_BAD_KEY', 'unlock without a master key');
        await rt.unlock(m.masterKey);
        // Import now if the store is usable; otherwise the next wake does it.
        if (rt.phase.phase === 'active' && (await rt.importInbox()) > 0) await rt.presenter.publishBadge();
        return;
      }
    }
  }

  /**
   * Queue an outgoing message (durable in the outbox first), then send it if the app is in front.
   * Resolves with its clientId once queued; every error about it names that id. Its outbox write is
   * retried on LOCK_TIMEOUT until a suspension is asked for (OUTBOX_NOT_QUEUED then, nothing queued).
   */
  send(queueId: string, text: string, clientId?: string): Promise<string> {
    const gen = this.suspendGen;
    return this.serial(async () => {
      // A suspension ran first (the send raced the app's way out): its outbox write would wait for
      // the database class until the next activation and hold every later command (`active` too).
      const p = this.rt.phase.phase;
      if (p === 'suspended' || p === 'suspending') {
        throw new NsekitError('OUTBOX_NOT_QUEUED', 'the app suspended before the message was queued', { cause: 'STORE_CLOSED', ...(clientId ? { clientId } : {}) });
      }
      const id = await this.outbox.enqueue(queueId, text, clientId, { mayRetry: () => gen === this.suspendGen });
      // Queued: a failing drain is the outbox's to retry, not a failed send.
      if (this.rt.phase.phase === 'active' && !this.tokens.loggedOut) await this.outbox.drain().catch((e) => this.rt.errorEvent('outbox drain', e, { clientId: id }));
      return id;
    });
  }

  /**
   * Logout (docs/processes.md "Push tokens"): live delivery ends (UNSUB, polling stops), the push
   * token is deactivated on every queue (the relay stops pushing), and until `login` a wake fetches
   * and sends nothing. The store is kept: its messages were ACKed, so they exist nowhere else.
   * An NDEL that cannot reach the relay now is retried at the next connect.
   */
  logout(): Promise<void> {
    this.leaveGen++; // a wake in progress stops at its next step
    return this.serial(async () => {
      const { rt } = this;
      rt.log('info', 'auth', 'logout: writes:blocked reason=logged_out');
      this.poller.stop();
      await this.realtime.unsubscribeAll();
      await this.tokens.logout().catch((e) => rt.log('warn', 'push', 'token:deactivate not sent (next connect retries)', { code: isNsekitError(e) ? e.code : String(e) }));
    });
  }

  /** Login again: the token is registered and the wake sequence runs if the app is in front. */
  login(): Promise<void> {
    return this.serial(async () => {
      this.tokens.login();
      this.rt.log('info', 'auth', 'login');
      if (this.rt.phase.phase === 'active') await this.safeWake('login');
    });
  }

  /** iOS granted a background window (refresh task, silent push): bounded push-only work, then suspended. */
  onWindow(m: WindowMsg): Promise<WindowResult> {
    return this.serial(() => this.windows.run(m));
  }

  /** The user changed a setting (applied at once: the refresh request is submitted or cancelled). */
  onSettings(m: SettingsMsg): void {
    if (m.backgroundRefresh !== undefined) this.refresh.setEnabled(m.backgroundRefresh);
  }

  /** Run a quarantined inbound message through the pipeline again (docs/receive.md "Quarantine"). */
  retryQuarantined(msgId: string): Promise<InboundOutcome | null> {
    return this.serial(() => this.rt.retryQuarantined(msgId));
  }

  /** A snapshot for the device's `query` (./status.ts). */
  status(): Promise<Record<string, unknown>> {
    return this.serial(() => appStatus(this.rt, this));
  }

  /** Stop timers and live delivery (the process is going away). */
  close(): void {
    this.realtime.close();
    this.bgTime.clear();
    this.poller.stop();
    this.outbox.close();
  }

  /** Sockets die in background: drop SUBs and stop polling while the network is still open. */
  /**
   * iOS's expiration (or suspension) does not wait for earlier commands: one stuck on the
   * network (an UNSUB or a connect during an outage) would keep the store open past the
   * deadline, and iOS freezes the app with SQLite's file locks held (0xdead10cc). So when the
   * queue is still busy at half the deadline, the phase machine blocks new work now and forces
   * the drain at the deadline (closing the store); the queued command finds it done. What
   * goBackground does without the network happens here too.
   */
  private suspendNow(m: LifecycleMsg, deadlineMs: number, seq: number): void {
    const { rt } = this;
    rt.log('warn', 'phase', `lifecycle ${m.event}: not suspending yet at half the deadline, suspending ahead of the queue`, { deadlineMs });
    this.suspendedAhead = true;
    this.front = false;
    this.poller.stop();
    rt.lock.withdrawYield();
    if (rt.phase.phase === 'active') rt.phase.background(); // the phases a host sees stay in order
    rt.phase.suspend(deadlineMs).then(
      () => {
        if (rt.phase.phase !== 'suspended') return; // activated again meanwhile
        rt.emit('left-front', {});
        rt.reportSuspended(seq);
      },
      (e: unknown) => rt.errorEvent(`lifecycle ${m.event}`, e),
    );
  }

  /** A suspension ran ahead of the queued commands (suspendNow); the next `active` activates ahead too. */
  private suspendedAhead = false;
  /** A wake got past the token step once (the registration reason is `launch` before). */
  private launched = false;
  /** `active` commands received (an expiry guard does not fire once a later one came in). */
  private activeCount = 0;
  /** Lifecycle commands received, in order. */
  private received = 0;

  private async goBackground(): Promise<void> {
    const { rt } = this;
    const wasFront = this.front;
    this.front = false;
    if (rt.phase.phase === 'active') {
      this.poller.stop();
      // A yield request made at activation and not yet honoured would make an NSE launched
      // from now on hand every push over to an app that is gone.
      rt.lock.withdrawYield();
      await this.realtime.unsubscribeAll();
      rt.phase.background();
    }
    // New receives are blocked; the ones in flight (a GET not ACKed yet) still hold their
    // message. Only when they are done may the NSE GET the same queues: tell the device.
    await rt.phase.whenIdle('receiveNetwork');
    rt.emit('left-front', {});
    // Leaving the front submits the refresh request (replacing a pending one) while the setting is on.
    if (wasFront) this.refresh.scheduleIfEnabled();
  }

  /**
   * A failed wake (socket dropped mid-sequence, a GET slot still held…) must not
   * leave the app without live delivery: report it and retry through the
   * realtime backoff, which runs the wake again once connected.
   */
  private async safeWake(reason: WakeReason, gen = this.leaveGen, lifecycle?: number): Promise<void> {
    try {
      await this.wake(reason, gen, lifecycle);
    } catch (e) {
      this.rt.errorEvent(`wake ${reason}`, e, lifecycle !== undefined ? { lifecycle } : {});
      if (this.rt.phase.phase === 'active') this.realtime.retry(`wake ${reason} failed`);
    }
  }

  /**
   * The wake sequence; returns early (no `wake` event) if the app is sent away meanwhile. A wake run
   * by an `active` command names it (`lifecycle`, its number as in `suspended`): a host can tell the
   * wake of its latest activation from an earlier one still finishing.
   */
  async wake(reason: WakeReason, gen = this.leaveGen, lifecycle?: number): Promise<void> {
    const { rt } = this;
    const which = lifecycle !== undefined ? { lifecycle } : {};
    if (rt.phase.phase !== 'active') return;
    const stale = () => {
      if (gen === this.leaveGen) return false;
      rt.log('info', 'sync', 'wake interrupted: leaving the foreground', { reason });
      return true;
    };
    if (stale()) return;
    rt.log('info', 'push', `wake reason=${reason}`);
    // 1. writes-ready: store open, key in memory (else inbound goes to the inbox), socket up.
    await rt.openStore();
    if (rt.unlocked) await rt.importInbox();
    await rt.phase.run('receiveNetwork', () => rt.ensureConnected());
    if (stale()) return;
    // Push token: a logout's deactivation still owed goes first; logged out, nothing else runs.
    if (this.tokens.deactivateOwed) await this.tokens.retryDeactivate();
    if (this.tokens.loggedOut) {
      rt.log('info', 'auth', 'writes:blocked reason=logged_out');
      rt.emit('wake', { reason, mode: this.mode, loggedOut: true, ...which });
      return;
    }
    rt.log('info', 'auth', rt.unlocked ? 'writes:ready' : 'writes:blocked reason=device_locked');
    // Registered at launch, on a change, or when old; a failure must not cost the wake (next one retries).
    if (this.tokens.due()) {
      await this.tokens.ensure(this.launched ? 'change' : 'launch').catch((e) => rt.errorEvent('push token', e));
      if (stale()) return;
    }
    this.launched = true;
    // 2. rebuild: forget stale SUBs (the NSE may have taken queues over with GET meanwhile).
    rt.log('info', 'rt', 'rebuild', { mode: this.mode, queues: rt.queueCfg.size });
    await this.realtime.unsubscribeAll();
    // 3. fetch what arrived while we were away, per queue, bounded.
    for (const queueId of rt.queueCfg.keys()) {
      if (stale()) return;
      await this.fetchQueue(queueId, stale);
    }
    if (stale()) return;
    // 4. live delivery again.
    if (this.mode === 'instant') await this.realtime.subscribeAll();
    else this.poller.start();
    // One line per channel (docs/processes.md "Log tags"): the queue id shortened, as ids in logs are.
    if (this.mode === 'instant') for (const q of rt.queueCfg.keys()) rt.log('info', 'rt', `rebuild channel=${q.slice(0, 8)} status=${rt.queues.isSubscribed(q) ? 'subscribed' : 'closed'}`);
    // 5. outbox.
    await this.outbox.drain();
    // 6. the badge: what this wake imported and fetched is counted (docs/notifications.md "Badge").
    await rt.presenter.publishBadge();
    rt.emit('wake', { reason, mode: this.mode, ...which });
  }

  /** The wake's fetch of one queue (./fetch-queue.ts), in batches of `maxBatch`, at most `maxBatches`. */
  fetchQueue(queueId: string, stop: () => boolean = () => false): Promise<number> {
    return fetchQueueBatches(this.rt, queueId, { maxBatch: this.maxBatch, maxBatches: this.maxBatches, stop });
  }
}
