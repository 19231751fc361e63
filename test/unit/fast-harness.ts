/**
 * A fast-mode world (sim/fast: the shipping sessions of src/core/session on in-memory ports, a
 * seeded scheduler and a virtual clock) driven step by step from a unit test: launch the app,
 * bring it to the front, inject relay messages (also ones that never open), hold the shared
 * lock from an outside pid, and read what the sessions reported (history ops) and what the store
 * holds. No wall clock: every wait is on the virtual clock, bounded by virtual ms and steps.
 */
import { sealForQueue } from '../../src/core/inbound/index.js';
import { NotificationCenter } from '../../src/device/notification-center.js';
import type { App } from '../../src/core/session/index.js';
import { IosRules } from '../../sim/fast/ios-rules.js';
import { FastWorld, ORCH } from '../../sim/fast/world.js';
import type { Op } from '../../sim/history/types.js';
import { resolveWorld, type Scenario } from '../../sim/scenario/index.js';

export interface FastOpts {
  queues?: number;
  mode?: 'instant' | 'low-power';
  /** 1 = iOS's real budgets (the NSE's 30 s); the explore default 0.01 makes them 300 ms. */
  timeFactor?: number;
  seed?: number;
}

export class FastHarness {
  readonly w: FastWorld;
  readonly rules: IosRules;
  app!: App;

  constructor(o: FastOpts = {}) {
    const scenario = { name: 'unit', world: { queues: o.queues ?? 2, senders: 1, mode: o.mode ?? 'instant', timeFactor: o.timeFactor ?? 1 }, steps: [] } as Scenario;
    this.w = new FastWorld(resolveWorld(scenario), o.seed ?? 7);
    this.rules = new IosRules(this.w);
  }

  /** Run the scheduler until `stop` holds (or `ms` virtual ms pass); returns whether it held. */
  async run(stop: () => boolean, ms = 120_000): Promise<boolean> {
    await this.w.sched.run({ untilMs: this.w.sched.now + ms, maxSteps: 2_000_000, stop });
    return stop();
  }

  /** Run for `ms` virtual ms. */
  async idle(ms: number): Promise<void> {
    await this.w.sched.run({ untilMs: this.w.sched.now + ms, maxSteps: 2_000_000 });
  }

  /** Launch the app (unlocked) and bring it to the front; resolves once its first wake finished. */
  async start(): Promise<App> {
    this.app = this.w.launchApp();
    let up = false;
    void this.w.postApp('active', { untilDone: true }).finally(() => (up = true));
    if (!(await this.run(() => up))) throw new Error('the app did not come up');
    return this.app;
  }

  /** Settle a promise made by the sessions while the scheduler runs. */
  async settle<T>(p: Promise<T>, ms = 600_000): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
    let r: { ok: true; value: T } | { ok: false; error: unknown } | null = null;
    p.then(
      (value) => (r = { ok: true, value }),
      (error: unknown) => (r = { ok: false, error }),
    );
    await this.run(() => r !== null, ms);
    if (!r) throw new Error('did not settle within the virtual bound');
    return r;
  }

  get history(): Op[] {
    return this.w.h.history as Op[];
  }

  /** History ops named `f` (session events are recorded under their own name), optionally of one proc. */
  ops(f: string, proc?: 'app' | 'nse'): Op[] {
    return this.history.filter((o) => o.f === f && (proc === undefined || o.proc === proc));
  }

  /** Values of session events named `name`, matching `pred`. */
  events(name: string, pred: (v: Record<string, unknown>) => boolean = () => true, proc?: 'app' | 'nse'): Record<string, unknown>[] {
    return this.ops(name, proc)
      .map((o) => (o.value ?? {}) as Record<string, unknown>)
      .filter(pred);
  }

  /** A message that never opens: sealed for `queueId` with a key nobody holds (CRYPTO_AUTH_FAILED). */
  sendPoison(queue = 0, notification = true): string {
    const queueId = this.w.queueIds[queue]!;
    const body = sealForQueue(this.w.rng.randomBytes(32), this.w.rng, queueId, { type: 'text', text: 'never opens' });
    return this.w.relay.send(queueId, body, { notification }).msgId;
  }

  /** A good message (sealed with the queue's e2e key); returns its relay msgId. */
  sendGood(queue = 0, notification = true): string {
    const before = new Set(this.w.relay.queued().map((m) => m.msgId).concat(this.w.relay.deleted));
    this.w.send(queue, 0, notification, 64);
    const m = [...this.w.relay.queued(), ...this.w.relay.deleted.map((msgId) => ({ msgId }))].find((x) => !before.has(x.msgId));
    return m!.msgId;
  }

  /** An outside process (pid 999) takes the shared lock now (it queues if held); returns its release. */
  holdLock(pid = 999): () => void {
    this.w.lockTable.take(pid, ORCH, () => {});
    return () => this.w.lockTable.release(pid, false);
  }

  /** Index of the first op matching `pred` (-1 if none). */
  indexOf(pred: (o: Op) => boolean): number {
    return this.history.findIndex(pred);
  }
}

export const val = (o: Op): Record<string, unknown> => (o.value ?? {}) as Record<string, unknown>;

/** The host's view (src/device/notification-center.ts) rebuilt from the history's records. */
export function center(h: FastHarness): NotificationCenter {
  const c = new NotificationCenter();
  for (const o of h.history) {
    if (o.proc !== 'app' && o.proc !== 'nse') continue;
    if (o.f === 'notify' && o.type === 'ok') c.apply(o.proc, 'notification', val(o));
    else if (o.f === 'notify.placeholder') c.apply(o.proc, 'notification', { ...val(o), bestAttempt: true });
    else if (o.f === 'thread-read' || o.f === 'badge') c.apply(o.proc, o.f, val(o));
  }
  return c;
}

/** App frozen in background (its time expired): every push goes to the NSE. */
export async function appAway(h: FastHarness): Promise<void> {
  await h.start();
  h.rules.expireApp('test');
  await h.idle(3_000);
  if (!h.w.app!.p.frozen) throw new Error('appAway: the app was not frozen after its expiry');
}
