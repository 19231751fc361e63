/**
 * The NSE of a fast run as an iOS host runs it: the bridge bundle (nsekit-nse.js, loaded in a
 * bare vm realm as the conformance runner loads it) on a host over the world's services
 * (./sim-host.ts), driven the way host-contract.md's lifecycle table says — a push becomes
 * `didReceiveNotification` (preceded by `protectedDataWillBecomeUnavailable` /
 * `protectedDataDidBecomeAvailable` when the lock state read at that moment changed: an
 * extension gets no lock notifications), "app active" becomes `yieldRequested`, "app left
 * front" `appLeftForeground`, iOS's expiry `serviceExtensionTimeWillExpire`. Every call in and
 * out is recorded by a RecordLoop: the process's conformance transcript.
 *
 * The world sees it through the methods it calls on an NseService (push, lifecycle,
 * setAppActive, yieldToApp, expire) and the session events a device reads (push-start,
 * yielded, suspended), which come from the facade's outputs and host callbacks.
 */
import { toHex } from '../../src/core/bytes.js';
import type { LifecycleMsg, PushMsg, SessionEventName } from '../../src/core/session/index.js';
import type { SimProc } from '../fast/proc.js';
import type { FastWorld } from '../fast/world.js';
import { queueKeysOf, startCore, type LoadedBundle } from './bridged-core.js';
import { RecordLoop } from './record-loop.js';
import { simNseHost } from './sim-host.js';

type Emit = (name: SessionEventName, fields: Record<string, unknown>) => void;

export class BridgedNse {
  readonly loop: RecordLoop;
  readonly config: Record<string, unknown>;
  /** The core holds the master key (the host told it the device is unlocked). */
  private keyed: boolean;
  private readonly yieldIds = new Map<number, number>();

  constructor(
    private readonly w: FastWorld,
    private readonly p: SimProc,
    bundle: LoadedBundle,
    private readonly emit: Emit,
  ) {
    this.loop = new RecordLoop(bundle.realm, w.sched, p.ctx.owner, w.sched.now);
    const cfg = p.rt.cfg;
    const queueKeys = queueKeysOf(w);
    const notifiers: Record<string, { queueId: string; keyHex: string }> = {};
    for (const q of w.queueIds) {
      const n = w.relay.notifierOf(q);
      notifiers[n.notifierId] = { queueId: q, keyHex: toHex(n.notifierKey) };
    }
    // The key only if the keychain is readable now (host-contract.md "Lifecycle mapping": first didReceive).
    this.keyed = !w.locked;
    this.config = {
      role: 'nse',
      ...(this.keyed ? { masterKeyHex: toHex(w.masterKey) } : {}),
      queueKeys,
      notifiers,
      forcedDeliveryMs: cfg.nseBudgetMs,
      graceMs: cfg.nseGraceMs,
      drainDeadlineMs: cfg.nseSuspendDeadlineMs,
    };
    const host = simNseHost(w, p, this.loop, {
      contentReady: (requestId, result) => this.shown(requestId, result),
      phaseChanged: (phase) => {
        void p.ctx.hit('phase.enter', { phase });
        if (phase !== 'suspended') return;
        void p.ctx.hit('phase.suspended', { phase });
        this.emit('suspended', {});
      },
    });
    this.loop.onOutput = (call, _ok, step) => {
      const id = this.yieldIds.get(step);
      if (call === 'yieldRequested') this.emit('yielded', { via: 'ipc', yieldId: id ?? 0 });
    };
    startCore(this.loop, bundle, host, this.config);
  }

  /** What contentReady delivered, as the history's notification ops (the checkers read them). */
  private shown(requestId: string, result: { status?: string; messages?: { msgId: string; queueId: string }[] }): void {
    const msgs = result.messages ?? [];
    for (const m of msgs) this.p.ctx.record('ok', 'notify', { msgId: m.msgId, queueId: m.queueId, pushId: requestId, threadId: m.queueId });
    if (!msgs.length && result.status === 'expired') this.p.ctx.record('info', 'notify.placeholder', { msgId: null, pushId: requestId });
  }

  // ---- what the device does (the NseService methods the world calls) ---------------------------

  /** A push: the lock state read now, then didReceiveNotification with the payload's sealed ids. */
  push(push: PushMsg): Promise<void> {
    const { w, loop } = this;
    if (w.locked && this.keyed) {
      this.keyed = false;
      loop.step('protectedDataWillBecomeUnavailable');
    } else if (!w.locked && !this.keyed) {
      this.keyed = true;
      loop.step('protectedDataDidBecomeAvailable', [toHex(w.masterKey)]);
    }
    const nids: { notifierId: string; sealed: string }[] = [];
    const queueIds: string[] = [];
    for (const it of push.items) {
      const nid = String(it.notifierId);
      if (typeof it.sealed === 'string') nids.push({ notifierId: nid, sealed: it.sealed });
      else queueIds.push(w.queueIds.find((q) => w.relay.notifierOf(q).notifierId === nid)!);
    }
    const req = { requestId: push.pushId, ...(queueIds.length ? { queueIds } : {}), ...(nids.length ? { nids } : {}) };
    loop.step('didReceiveNotification', [req], () => this.emit('push-start', { pushId: push.pushId }));
    return Promise.resolve();
  }

  /** Lock and unlock reach an extension only through the per-push check above; iOS's expiry is a call. */
  lifecycle(m: LifecycleMsg): Promise<void> {
    if (m.event === 'expiring') this.expire();
    return Promise.resolve();
  }

  /** The device's "app active" (a numbered request) or "app left front" Darwin notification. */
  setAppActive(active: boolean, yieldId?: number): void {
    if (active) void this.yieldToApp('ipc', yieldId);
    else this.loop.step('appLeftForeground');
  }

  yieldToApp(_via: 'ipc' | 'lock', yieldId?: number): Promise<void> {
    this.yieldIds.set(this.loop.steps.length, yieldId ?? 0);
    this.loop.step('yieldRequested');
    return Promise.resolve();
  }

  expire(): void {
    this.loop.step('serviceExtensionTimeWillExpire');
  }
}
