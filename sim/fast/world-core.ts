/**
 * The fast world's state and processes (./world.ts adds the iOS rules, the push path and the
 * senders): scheduler + virtual clock, relay, lock table, store file, pending-inbox files, and
 * the app and NSE instances running the shipping sessions on in-memory ports.
 */
import { toHex } from '../../src/core/bytes.js';
import type { Log } from '../../src/core/host.js';
import { generateStatusKeypair } from '../../src/core/protocol/index.js';
import { App, NseService, type LifecycleEvent, type SessionComponents, type QueueConfig, type SessionConfig, type SessionEventName, suspendedAnswersLast } from '../../src/core/session/index.js';
import { FAILPOINT_OP_MAP } from '../history/failpoint-ops.js';
import type { OpInput, OpType } from '../history/types.js';
import type { BrokenVariant } from '../broken.js';
import { storeSyncFor } from '../broken-components.js';
import { scaledBudgets, type World } from '../scenario/index.js';
import { silentLog } from '../../src/node/host.js';
import { SeededRng } from './prng.js';
import { SimInboxFiles } from './inbox.js';
import { LockTable } from './lock.js';
import { SimProc } from './proc.js';
import type { ProcCtx } from './proc-ctx.js';
import { DeviceRecorder, FastRecorder } from './recorder.js';
import { PASS_THROUGH, hitMark } from './hit-marks.js';
import { SimPushTokens } from './push-tokens.js';
import { SimRelay } from './relay.js';
import { SimStatusEndpoint } from './status.js';
import { Scheduler } from './scheduler.js';
import { SimDb } from './store.js';

export type Role = 'app' | 'nse';
/** Failpoint hook: returns true if a trigger took the hit (it will call `release` later). */
export type HitHook = (role: Role, name: string, release: () => void, fields: Record<string, unknown>) => boolean;

/** The orchestrator: its ops' proc and its scheduler owner key. */
export const ORCH = 'orchestrator';

export abstract class FastWorldCore {
  readonly sched: Scheduler;
  readonly h: FastRecorder;
  readonly relay: SimRelay;
  readonly lockTable: LockTable;
  readonly db = new SimDb();
  readonly inboxFiles = new SimInboxFiles();
  readonly rng: SeededRng;
  readonly masterKey: Uint8Array;
  readonly e2eKeys = new Map<string, Uint8Array>();
  readonly queueIds: string[];
  readonly hits: Set<string>;
  /** Plaintext markers of every sent message, for the at-rest scan. */
  readonly markers: string[];
  /** In a two-device run: this device's number (./devices.ts); undefined in a one-device run. */
  readonly device: number | undefined;
  /** Set in a two-device run: a `send` goes to every device's member queue of the group (./devices.ts). */
  fanout: ((queue: number, sender: number, notification: boolean, bytes: number, poison: boolean) => void) | null = null;
  app: { p: SimProc; app: App } | null = null;
  nse: { p: SimProc; nse: NseService } | null = null;
  /** The relay's signed status endpoint (low-power polls; ./status.ts). */
  readonly status: SimStatusEndpoint;
  /** Low-power worlds: per queue, the Ed25519 status key the app signs its polls with (hex). */
  protected readonly statusKeys = new Map<string, string>();
  /** Per queue: the notifier id and key the NSE opens push payloads with. */
  protected readonly notifierKeys = new Map<string, { nid: string; key: Uint8Array }>();
  /** Pushes handed to the live NSE that it has not started yet: iOS does not freeze it meanwhile. */
  protected unstarted = 0;
  protected pushSeq = 0;
  appState: 'active' | 'background' | 'expiring' = 'active';
  locked = false;
  pushesHeld = false;
  heldPushes: { queueId: string; msgId?: string }[] = [];
  /** The device's push token, the relay's registrations, the app's persisted state (./push-tokens.ts). */
  readonly tokens: SimPushTokens;
  onHit: HitHook = () => false;
  protected nextPid = { app: 100, nse: 200 };
  readonly budgets;

  constructor(
    readonly world: World,
    seed: number,
    readonly broken?: BrokenVariant,
    /** Parts the sessions are built with (the simulator's broken variants wrap them; see sim/broken.ts). */
    protected readonly components?: SessionComponents,
    /** A two-device run (./devices.ts): this device's number, and for device 2 the world it shares the relay, clock and history with. */
    dev?: { device: number; base?: FastWorldCore },
  ) {
    const base = dev?.base;
    this.device = dev?.device;
    this.sched = base ? base.sched : new Scheduler(seed);
    const rec = base ? (base.h as DeviceRecorder).base : new FastRecorder(() => this.sched.now);
    this.h = dev ? new DeviceRecorder(rec, dev.device) : rec;
    this.relay = base ? base.relay : new SimRelay(this.sched, rec);
    this.hits = base ? base.hits : new Set<string>();
    this.markers = base ? base.markers : [];
    this.lockTable = new LockTable((owner, fn) => this.sched.post(owner, fn));
    this.rng = base ? base.rng : new SeededRng(BigInt(seed) * 2654435761n + 1n);
    this.masterKey = this.rng.randomBytes(32);
    // Each device owns its member queue of every group (one token per queue: devices never share one).
    // Ids as the relay's (its status endpoint takes [A-Za-z0-9_-] only): `d2-q0`, not `d2.q0`.
    const qp = dev && dev.device > 1 ? `d${dev.device}-` : '';
    this.queueIds = Array.from({ length: world.queues }, (_, i) => `${qp}q${i}`);
    if (dev) this.queueIds.push(`${qp}sync`); // each phone's device-sync queue: the others' read markers (./devices.ts)
    for (const q of this.queueIds) this.e2eKeys.set(q, this.rng.randomBytes(32));
    this.queueIds.forEach((q, i) => this.notifierKeys.set(q, { nid: `${qp}n${i}`, key: this.rng.randomBytes(32) }));
    if (dev && dev.device > 1) this.nextPid = { app: 1000 * dev.device + 100, nse: 1000 * dev.device + 200 };
    this.budgets = scaledBudgets(world);
    this.tokens = new SimPushTokens(this.queueIds, dev && dev.device > 1 ? `d${dev.device}.simtok` : undefined);
    const onNotify = (queueId: string, msgId: string) => this.notify(queueId, msgId);
    const notifierOf = (q: string) => ({ notifierId: this.notifierKeys.get(q)!.nid, notifierKey: this.notifierKeys.get(q)!.key });
    if (dev) this.relay.route(this.queueIds, { device: dev.device, onNotify, tokens: this.tokens, notifierOf });
    else {
      this.relay.onNotify = onNotify;
      this.relay.tokens = this.tokens;
      this.relay.notifierOf = notifierOf;
    }
    this.status = new SimStatusEndpoint(this.relay, this.sched);
    if (world.mode === 'low-power') {
      // As NEW {recipientKey}: each queue's key registered with the relay. From a generator of its
      // own, so the world's seeded sequence (every other key, every delay) is the same as before.
      const keyRng = new SeededRng(BigInt(seed) * 40503n + 17n + BigInt((dev?.device ?? 1) - 1));
      for (const q of this.queueIds) {
        this.statusKeys.set(q, toHex(generateStatusKeypair(keyRng).secretKey));
        this.status.keyed.add(q);
      }
    }
  }

  /** The queues as both sessions are configured with them (credentials are not checked by the fast relay). */
  protected queueConfigs(): QueueConfig[] {
    return this.queueIds.map((queueId) => {
      const n = this.notifierKeys.get(queueId)!;
      const statusKey = this.statusKeys.get(queueId);
      const role = this.device === undefined ? {} : queueId.endsWith('sync') ? { deviceSync: true } : { conversation: `c${queueId.slice(queueId.lastIndexOf('q') + 1)}` };
      return { queueId, recipientKey: `rcv-${queueId}`, senderKey: `snd-${queueId}`, e2eKey: toHex(this.e2eKeys.get(queueId)!), notifierId: n.nid, notifierKey: toHex(n.key), ...(statusKey ? { statusKey } : {}), ...role };
    });
  }

  /** Last word on each session's configuration (a test giving the queues conversations, a device-sync queue, linked devices). */
  configure: (role: Role, cfg: SessionConfig) => SessionConfig = (_role, cfg) => cfg;

  protected sessionConfig(role: Role): SessionConfig {
    return this.configure(role, this.baseConfig(role));
  }

  protected baseConfig(role: Role): SessionConfig {
    const tf = this.world.timeFactor;
    const queues = this.queueConfigs();
    const sync = storeSyncFor(this.broken);
    if (role === 'app') {
      return {
        role,
        queues,
        ...sync,
        mode: this.world.mode === 'low-power' ? 'lowPower' : 'instant',
        pollIntervalMs: Math.max(250, 1000 * tf),
        appExpiryDeadlineMs: Math.floor(this.budgets.nseGraceMs / 2),
      };
    }
    // Its own budget timer fires before iOS's (0.8 × nseMs, as in the real NSE config): the expiry callback is unreliable.
    return {
      role,
      queues,
      ...sync,
      nseBudgetMs: Math.floor(this.budgets.nseMs * 0.8),
      nseGraceMs: Math.max(1, 2000 * tf),
      nseSuspendDeadlineMs: Math.max(1, 1000 * tf),
    };
  }

  // ---- process instances -------------------------------------------------------------------

  protected ctx(role: Role, pid: number, phase: () => string | undefined): ProcCtx {
    const owner = `${role}#${pid}`;
    const clock = this.sched.clock(owner);
    // Hot path (every failpoint): no named closures here — tsx's keepNames wraps each in a defineProperty.
    const hit = (name: string, fields?: Record<string, unknown>): Promise<void> | undefined => this.hitAs(role, pid, owner, phase(), name, fields ?? {});
    const record = (type: OpType, f: string, value?: unknown, extra?: { ref?: string | number; error?: string }): void => {
      const ph = phase();
      // Built in place (same keys, same order as `{ …, ...(ph ? { phase } : {}), ...extra }`): every recorded op passes here.
      const op: OpInput = { proc: role, pid, type, f, value };
      if (ph) op.phase = ph;
      if (extra) Object.assign(op, extra);
      this.h.append(op);
    };
    const host = { clock, rng: this.rng, log: this.logFor(owner), failpoints: { hit } };
    return { proc: role, pid, owner, clock, host, hit, record, point: () => this.sched.point(owner) };
  }

  /** The release of a held hit, recording the end of the harness's hold (once). */
  protected heldRelease(role: Role, pid: number, at: string, release: () => void): () => void {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.h.append({ proc: role, pid, type: 'info', f: 'harness.release', value: { at } });
      release();
    };
  }

  protected readonly logToStderr = process.env.NSEKIT_FAST_LOG === '1';
  /** Session log lines: silent, or on stderr with the virtual time when NSEKIT_FAST_LOG=1 (debugging one run). */
  protected logFor(owner: string): Log {
    if (!this.logToStderr) return silentLog;
    return { log: (level, tag, msg, fields) => process.stderr.write(`${this.sched.now} ${owner} ${level} [${tag}] ${msg} ${fields ? JSON.stringify(fields) : ''}\n`) };
  }

  /** A failpoint hit: recorded as its history op (as opFromFailpoint maps it), offered to the triggers, then a scheduling point. */
  protected hitAs(role: Role, pid: number, owner: string, phase: string | undefined, name: string, fields: Record<string, unknown>): Promise<void> | undefined {
    const m = FAILPOINT_OP_MAP[name];
    const value = name === 'db.write.done' ? { ...fields, inserted: fields.duplicate !== true } : fields;
    const op: OpInput = m ? { proc: role, pid, type: m.type, f: m.f, value, fp: name } : { proc: role, pid, type: 'info', f: `fp:${name}`, value, fp: name };
    if (phase) op.phase = phase;
    if (m?.type === 'fail') op.error = String(fields.code ?? 'error');
    if (m?.f === 'get' && fields.slot !== undefined) op.ref = `slot${String(fields.slot)}`; // pairs a GET (several may be open)
    this.h.append(op);
    this.hits.add(hitMark(role, name));
    let resolve!: () => void;
    const p = new Promise<void>((r) => {
      resolve = r;
    });
    const release = this.sched.post.bind(this.sched, owner, resolve); // bind: no keepNames wrapper
    if (this.onHit(role, name, this.heldRelease(role, pid, name, release), fields)) {
      // A trigger holds the process here: a stall of the harness's making (docs/invariants.md).
      this.h.append({ proc: role, pid, type: 'info', f: 'harness.hold', value: { at: name } });
      return p;
    }
    // Bookkeeping sites (phase/gate announcements, slot released) are not scheduling points
    // unless a step waits on them: fewer steps, the same interleavings where work happens.
    // ... except in a frozen process: SIGSTOP stops it at once, not at its next real scheduling point.
    if (PASS_THROUGH.has(name) && !this.sched.isFrozen(owner)) return undefined;
    release();
    return p;
  }

  protected spawn(role: Role): SimProc {
    const pid = ++this.nextPid[role];
    let proc: SimProc | null = null;
    const c = this.ctx(role, pid, () => proc?.phase.phase);
    proc = new SimProc(this, c, this.sessionConfig(role), (p, name, fields) => this.onEvent(role, p, name, fields), this.components, this.broken !== 'inbox-no-fsync-claim', role === 'app' ? this.tokens.port() : undefined, role === 'app' ? this.status.client(c) : undefined);
    this.h.ok(ORCH, 'launch', { proc: role, pid });
    // As the Node processes at launch: the relay connection starts, the keychain hands over the key (which opens the store).
    void proc.rt.ensureConnected().catch(() => {});
    return proc;
  }

  /** The device's reading of a session event (src/device): when iOS may freeze a process. */
  protected onEvent(role: Role, p: SimProc, name: SessionEventName, fields: Record<string, unknown>): void {
    if (this.eventWaiters.length) {
      const hit = this.eventWaiters.filter((w) => w.p === p && w.name === name && w.ok(fields));
      if (hit.length) this.eventWaiters = this.eventWaiters.filter((w) => !hit.includes(w));
      for (const w of hit) w.r();
    }
    if (role === 'app' && name === 'left-front') this.leftFront.set(p, true);
    if (role === 'nse' && name === 'push-start') this.unstarted = Math.max(0, this.unstarted - 1);
    if (name !== 'suspended') return;
    // iOS freezes the NSE once it has finished and suspended — unless a push it has not started is waiting.
    if (role === 'nse' && this.nse?.p === p && this.unstarted === 0) this.freeze('nse', 'suspended');
    // The app suspended after its background time expired: frozen.
    // Only if the report answers the last command sent (src/device): an older suspension finishing
    // while a newer command is on its way is not the end of the app's background time.
    if (role === 'app' && this.app?.p === p && this.appState === 'expiring' && suspendedAnswersLast(fields, this.appCmdsSent.get(p))) this.freeze('app', 'suspended');
  }

  /** Lifecycle commands posted to each app instance (its `suspended` names the one it answers). */
  protected readonly appCmdsSent = new WeakMap<SimProc, number>();
  protected eventWaiters: { p: SimProc; name: SessionEventName; ok: (f: Record<string, unknown>) => boolean; r: () => void }[] = [];
  /** Resolves at this instance's next `name` event that `ok` accepts (as the device's waitFor). */
  nextEvent(p: SimProc, name: SessionEventName, ok: (f: Record<string, unknown>) => boolean = () => true): Promise<void> {
    return new Promise<void>((r) => this.eventWaiters.push({ p, name, ok, r }));
  }
  /** Per app instance: false from a leave command until its `left-front` (src/device's leaveFrom). */
  protected readonly leftFront = new WeakMap<SimProc, boolean>();
  /** Yield requests sent to each NSE instance, numbered (src/device: its `yielded` answers up to `yieldId`). */
  readonly yieldsSent = new WeakMap<SimProc, number>();
  /** Tell the live NSE the app is in front: one yield request, as the NSE counts them. */
  tellAppActive(): void {
    const nse = this.nse;
    if (!nse || !nse.p.alive) return;
    const id = (this.yieldsSent.get(nse.p) ?? 0) + 1;
    this.yieldsSent.set(nse.p, id);
    void this.postNse((n) => n.setAppActive(true, id));
  }

  launchApp(): App {
    const p = this.spawn('app');
    const app = this.makeApp(p);
    this.app = { p, app };
    if (!this.locked) void this.postApp('unlock');
    return app;
  }

  /** The app an instance runs: the shipping App on its runtime (sim/bridge: the bridge bundle's app facade). */
  protected makeApp(p: SimProc): App { return new App(p.rt); }

  /**
   * The NSE an instance runs: the shipping NseService on the instance's runtime. sim/bridge
   * overrides it to run the bridge bundle's NSE facade instead, reporting its session events
   * through `emit` (the instance's own runtime then stays idle).
   */
  protected makeNse(p: SimProc, _emit: (name: SessionEventName, fields: Record<string, unknown>) => void): NseService {
    return new NseService(p.rt, {
      budgetMs: p.rt.cfg.nseBudgetMs!,
      graceMs: p.rt.cfg.nseGraceMs!,
      suspendDeadlineMs: p.rt.cfg.nseSuspendDeadlineMs!,
    });
  }

  protected launchNse(): NseService {
    const p = this.spawn('nse');
    const nse = this.makeNse(p, (name, fields) => this.onEvent('nse', p, name, fields));
    this.nse = { p, nse };
    this.unstarted = 0;
    if (!this.locked) void this.postNse((n) => n.lifecycle({ type: 'lifecycle', event: 'unlock', masterKey: toHex(this.masterKey) }));
    return nse;
  }

  proc(role: Role): SimProc | null {
    const x = role === 'app' ? this.app : this.nse;
    return x && x.p.alive ? x.p : null;
  }

  protected readonly mail = new Map<string, Promise<void>>();
  /**
   * IPC to a process: commands are delivered in the order sent (one task each, so a frozen
   * process gets them when thawed), unlike the process's own concurrent tasks.
   */
  protected deliver(owner: string, fn: () => void): void {
    const prev = this.mail.get(owner) ?? Promise.resolve();
    this.mail.set(owner, prev.then(() => new Promise<void>((r) => this.sched.post(owner, () => (r(), fn())))));
  }

  /** Deliver an account or token command to the live app (in order with its lifecycle commands); false if none runs. */
  postAppCall(fn: (app: App) => Promise<void> | void): boolean {
    const a = this.app;
    if (!a || !a.p.alive) return false;
    this.deliver(a.p.ctx.owner, () => void Promise.resolve().then(() => fn(a.app)).catch((e: unknown) => a.p.rt.errorEvent('app command', e)));
    return true;
  }

  /** Deliver a lifecycle command to the live app; resolves once the app has applied it ('active': activated). */
  postApp(ev: LifecycleEvent, opts: { untilDone?: boolean; thread?: string; bgTask?: boolean } = {}): Promise<void> {
    const a = this.app;
    if (!a || !a.p.alive) return Promise.resolve();
    const m = { type: 'lifecycle' as const, event: ev, ...(ev === 'unlock' ? { masterKey: toHex(this.masterKey) } : {}), ...(opts.thread !== undefined ? { thread: opts.thread } : {}), ...(opts.bgTask === false ? { bgTask: false } : {}) };
    if (ev === 'background' || ev === 'expiring' || ev === 'suspend') this.leftFront.set(a.p, false);
    this.appCmdsSent.set(a.p, (this.appCmdsSent.get(a.p) ?? 0) + 1);
    // Errors are reported by the app (an `error` event); the caller only waits for the command to take effect.
    return new Promise<void>((resolve) =>
      this.deliver(a.p.ctx.owner, () => {
        a.app.onLifecycle(m, opts.untilDone ? undefined : resolve).then(resolve, (e: unknown) => (a.p.rt.errorEvent(`lifecycle ${ev}`, e), resolve()));
      }),
    );
  }
  /** Any other command to the live app (a window, a setting), in order with the lifecycle ones; resolves when done. */
  postAppFn(fn: (a: App) => Promise<unknown> | unknown): Promise<void> {
    const a = this.app;
    if (!a || !a.p.alive) return Promise.resolve();
    return new Promise<void>((resolve) =>
      this.deliver(a.p.ctx.owner, () => void Promise.resolve().then(() => fn(a.app)).then(() => resolve(), (e: unknown) => (a.p.rt.errorEvent('app command', e), resolve()))),
    );
  }
  postNse(fn: (n: NseService) => Promise<void> | void): Promise<void> {
    const nse = this.nse;
    if (!nse || !nse.p.alive) return Promise.resolve();
    return new Promise<void>((resolve) =>
      this.deliver(nse.p.ctx.owner, () =>
        Promise.resolve()
          .then(() => fn(nse.nse))
          .then(resolve, (e: unknown) => {
            nse.p.ctx.record('info', 'error', { where: 'nse command', message: e instanceof Error ? e.message : String(e) });
            resolve();
          }),
      ),
    );
  }

  /**
   * The app was told to leave the foreground: once it has left `active` (bounded, as for a
   * push), tell the NSE it may GET again — unless the app came back meanwhile (src/device).
   */
  async nseMayFetch(): Promise<void> {
    const app = this.proc('app');
    // As src/device: the app's `left-front` (background and no receive in flight), bounded.
    if (app && !app.frozen && this.leftFront.get(app) === false) await Promise.race([this.nextEvent(app, 'left-front'), this.sched.delay(ORCH, 2_000), this.stopped(app)]);
    if (this.appState === 'active' && this.proc('app')) return;
    await this.postNse((n) => n.setAppActive(false));
  }

  /** Device lock or unlock, to every live process (frozen ones get it when thawed). */
  setDeviceLocked(locked: boolean): void {
    this.locked = locked;
    const m = locked ? { type: 'lifecycle' as const, event: 'lock' as const } : { type: 'lifecycle' as const, event: 'unlock' as const, masterKey: toHex(this.masterKey) };
    void this.postApp(m.event);
    void this.postNse((n) => n.lifecycle(m));
  }

  /** The relay has a message for `queueId` with the notification flag: a push (./world.ts). */
  protected abstract notify(queueId: string, msgId?: string): void;
  /** iOS freezes `role` (./world.ts, with the 0xdead10cc check). */
  abstract freeze(role: Role, why: string): 'frozen' | 'killed' | 'gone';
  /** Resolves when this instance is frozen or dead (./world.ts). */
  abstract stopped(p: SimProc): Promise<void>;
}
