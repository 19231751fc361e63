import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_APP_SUSPEND_AFTER_MS } from '../core/session/index.js';
import type { Log } from '../core/host.js';
import { truncateSecret } from '../node/host.js';
import { flockHolders } from '../node/lock/proc-locks.js';
import { DeviceBackground, isSilentPush } from './background.js';
import { EventLog } from './event-log.js';
import { NotificationCenter } from './notification-center.js';
import { SHARED_FILES, type EventMsg, type LifecycleEvent, type ProcConfig, type PushItem } from './ipc.js';
import { bundleEntries, type Entries } from './bundle.js';
import { ManagedProc, type ManagedProcOpts } from './proc.js';
import { PushListener, pushItems, registerWithGateway } from './push-listener.js';

export interface DeviceOpts {
  /** App-group directory; a fresh temp dir if absent. */
  sharedDir?: string;
  relayUrl: string;
  relayHttpUrl?: string;
  /** Push gateway base URL; when set, the device registers `token → deviceUrl` on start. */
  gatewayUrl?: string;
  queues: ProcConfig['queues'];
  /** Shared by app and NSE configs. */
  procConfig?: Partial<ProcConfig>;
  procOpts?: ManagedProcOpts;
  log?: Log;
  /** Push token; random if absent. */
  token?: string;
  /** Hand pushes to the NSE even while the app is in front (default false: the app's own SUB delivers). */
  nseWhenForeground?: boolean;
  /** Run the processes from an esbuild bundle (fast cold start; default true) or from sources via tsx. */
  bundled?: boolean;
  /**
   * The app and NSE entry modules (TypeScript sources) instead of the shipping
   * ones (ENTRY in ./proc.ts): the simulator's builds that wrap the sessions
   * (sim/real). Bundled on their own, never into the shipping bundle.
   */
  entries?: Entries;
}

export interface Violation {
  kind: '0xdead10cc';
  pid: number;
  role: string;
  at: number;
}

/**
 * The simulated phone. It owns the shared directory (store.db, store.lock,
 * inbox.jsonl), the master key (the keychain) and the "device locked" state;
 * it spawns the app, launches or reuses the NSE on a mutable-content push,
 * forwards lifecycle events, and freezes / thaws / kills processes the way iOS
 * does — including the 0xdead10cc rule (frozen while holding the lock → kill).
 */
export class Device extends EventLog {
  readonly sharedDir: string;
  /** The push token the OS gave this device; `changeToken` replaces it (./push-token.ts). */
  token: string;
  readonly masterKey = randomBytes(32).toString('hex');
  locked = false;
  app: ManagedProc | null = null;
  nse: ManagedProc | null = null;
  /** Every NSE process launched (for counting cold starts and reaping). */
  readonly nseHistory: ManagedProc[] = [];
  readonly violations: Violation[] = [];
  /** Pushes received over HTTP, in order. */
  readonly pushes: { pushId: string; receivedAt: number; items: PushItem[]; cold: boolean; suppressed?: boolean }[] = [];
  deviceUrl = '';
  /** Background windows: the refresh setting, force-quit, silent pushes (./background.ts). */
  readonly background: DeviceBackground;
  /** The app's stored user settings (UserDefaults): every app launch gets them in its config. */
  readonly appSettings: { backgroundRefresh?: boolean } = {};
  /** Last lifecycle event sent to the app ('none' before launch). */
  appState: LifecycleEvent | 'none' = 'none';
  private readonly listener = new PushListener((body, receivedAt) =>
    void this.deliverPush(body, receivedAt).catch((e) => this.log('error', 'push', 'delivery to NSE failed', { error: String(e) })),
  );
  private pushSeq = 0;
  private nseStarting: Promise<ManagedProc> | null = null;
  private appStarting: Promise<ManagedProc> | null = null;
  /** App processes launched so far (a relaunch after a kill counts again). */
  appLaunches = 0;
  /** Where in the app's events its latest leave command was sent: its `left-front` comes after. */
  private readonly leaveFrom = new WeakMap<ManagedProc, number>();
  /** Yield requests sent to each NSE instance, numbered (its `yielded` event answers up to `yieldId`). */
  private readonly yieldsSent = new WeakMap<ManagedProc, number>();
  /** Pushes sent to an NSE that it has not started yet (no `push-start`). */
  private readonly unstarted = new WeakMap<ManagedProc, number>();
  /** Delivered notifications by thread, and the icon's badge (docs/notifications.md "The host"). */
  readonly notifications = new NotificationCenter();

  constructor(private readonly opts: DeviceOpts) {
    super();
    this.sharedDir = opts.sharedDir ?? mkdtempSync(join(tmpdir(), 'nsekit-device-'));
    mkdirSync(this.sharedDir, { recursive: true });
    this.token = opts.token ?? randomBytes(16).toString('hex');
    this.background = new DeviceBackground(this, opts.log);
  }

  get gatewayUrl(): string | undefined {
    return this.opts.gatewayUrl;
  }

  private log(level: 'info' | 'warn' | 'error' | 'debug', tag: string, msg: string, fields?: Record<string, unknown>) {
    this.opts.log?.log(level, tag, msg, fields);
  }

  config(role: ProcConfig['role']): ProcConfig {
    return {
      ...(role === 'app' ? { appSuspendAfterMs: DEFAULT_APP_SUSPEND_AFTER_MS } : {}), // docs/processes.md "Background time"
      ...this.opts.procConfig,
      role,
      sharedDir: this.sharedDir,
      relayUrl: this.opts.relayUrl,
      ...(this.opts.relayHttpUrl ? { relayHttpUrl: this.opts.relayHttpUrl } : {}),
      queues: this.opts.queues.filter((q) => !q.only || q.only === role),
      // The app registers the token itself at launch (docs/processes.md "Push tokens").
      ...(role === 'app' ? { pushToken: this.token } : {}),
      ...(role === 'app' ? this.appSettings : {}),
    };
  }

  /** Start the push listener and register with the gateway. */
  async start(): Promise<void> {
    if (this.opts.bundled !== false) await bundleEntries(this.opts.entries);
    this.deviceUrl = await this.listener.start();
    if (this.opts.gatewayUrl) await this.register(this.opts.gatewayUrl);
  }

  async register(gatewayUrl: string): Promise<void> {
    await registerWithGateway(gatewayUrl, this.token, this.deviceUrl);
    this.log('info', 'push', 'registered', { token: truncateSecret(this.token), deviceUrl: this.deviceUrl });
  }

  /** Normalise a gateway payload into notification items (./push-listener.ts). */
  static pushItems(body: unknown): PushItem[] {
    return pushItems(body);
  }

  /** A push: content-available → a window for the app (./background.ts); mutable-content → the live NSE or a new one. */
  async deliverPush(body: unknown, receivedAt = Date.now()): Promise<string> {
    if (isSilentPush(body)) {
      void this.background.deliverSilent(body);
      return `s${++this.pushSeq}`;
    }
    const items = pushItems(body);
    const pushId = `p${++this.pushSeq}`;
    if (this.appInForeground && !this.opts.nseWhenForeground) {
      // As SimpleX's NSE does when the app is active: no fetch, the app's own SUB/poll delivers.
      this.log('info', 'push', 'suppressed: app in foreground', { pushId, items: items.length });
      this.pushes.push({ pushId, receivedAt, items, cold: false, suppressed: true });
      this.emit('push', { pushId, receivedAt, items, suppressed: true });
      return pushId;
    }
    const cold = !this.nse || !this.nse.alive;
    this.pushes.push({ pushId, receivedAt, items, cold });
    this.log('info', 'push', 'received', { pushId, items: items.length, cold });
    await this.appLeftForeground();
    const nse = await this.ensureNse();
    // A frozen NSE is thawed and told the current lock state before it sees the push.
    if (nse.stopped) this.thaw(nse);
    this.unstarted.set(nse, (this.unstarted.get(nse) ?? 0) + 1);
    // The app came to the front while the NSE was starting: it must not GET (the app fetches).
    if (this.appInForeground && !this.opts.nseWhenForeground) this.tellAppActive(nse);
    // nseWhenForeground (bench: app and NSE own disjoint queues): the NSE fetches even after a yield.
    if (this.opts.nseWhenForeground) nse.send({ type: 'app-state', active: false });
    nse.send({ type: 'push', pushId, receivedAt, items });
    this.emit('push', { pushId, receivedAt, items, cold });
    return pushId;
  }

  /** Launch (or return) the NSE without a push: prewarming, and tests that arm failpoints first. */
  startNse(): Promise<ManagedProc> {
    return this.ensureNse();
  }

  private ensureNse(): Promise<ManagedProc> {
    // Still starting: wait for its `ready` (a push sent earlier could be lost or run before start).
    if (this.nseStarting) return this.nseStarting;
    if (this.nse && this.nse.alive) return Promise.resolve(this.nse);
    this.nseStarting = (async () => {
      const p = await this.spawn('nse');
      this.nse = p;
      this.nseHistory.push(p);
      await p.waitEvent('ready', {}, { timeoutMs: 30_000 });
      if (!this.locked) p.send({ type: 'lifecycle', event: 'unlock', masterKey: this.masterKey });
      return p;
    })().finally(() => (this.nseStarting = null));
    return this.nseStarting;
  }

  private async spawn(role: ProcConfig['role']): Promise<ManagedProc> {
    const entry = this.opts.bundled === false ? this.opts.entries?.[role] : (await bundleEntries(this.opts.entries))[role];
    const p = new ManagedProc(this.config(role), { ...this.opts.procOpts, ...(entry ? { entry } : {}) });
    p.on('event', (e: EventMsg) => {
      this.record(role, p.pid, e);
      this.notifications.apply(role, e.name, e as unknown as Record<string, unknown>);
      if (role === 'nse' && e.name === 'push-start') this.unstarted.set(p, Math.max(0, (this.unstarted.get(p) ?? 0) - 1));
      // iOS freezes the NSE once it has finished and suspended — unless a push we
      // already handed it is still unread (it will reactivate for that one).
      // Not while the device is shutting down: a process thawed to answer `shutdown` may report
      // `suspended` on its way (a yield it had in hand), and frozen again it could not answer.
      if (role === 'nse' && e.name === 'suspended' && this.nse === p && !this.unstarted.get(p) && !this.stopping) this.freeze(p);
    });
    p.on('exit', (code, sig) => {
      this.log('info', 'phase', `${role} exited`, { pid: p.pid, code, sig });
      // An app that is gone fetches nothing: the NSE takes pushes again.
      if (role === 'app' && this.nse?.alive) this.nse.send({ type: 'app-state', active: false });
    });
    return p;
  }

  /** Launch the app process (active unless `background`: launched for a window; routed to `thread` when opened by a tap; unlocked unless the device is locked). */
  async launchApp(opts: { background?: boolean; thread?: string } = {}): Promise<ManagedProc> {
    if (this.app?.alive) return this.app;
    // One launch at a time: a second foreground while the first launch waits for `ready` joins it.
    if (this.appStarting) return this.appStarting;
    this.appStarting = (async () => {
      const p = await this.spawn('app');
      this.app = p;
      this.appLaunches++;
      await p.waitEvent('ready', {}, { timeoutMs: 30_000 });
      if (!this.locked) p.send({ type: 'lifecycle', event: 'unlock', masterKey: this.masterKey });
      if (opts.background) this.appState = 'background';
      else await this.activate(p, 'active', opts.thread !== undefined ? { thread: opts.thread } : {});
      return p;
    })().finally(() => (this.appStarting = null));
    return this.appStarting;
  }

  /** Tell the NSE the app is in front: a numbered yield request, as `yield` is. */
  private tellAppActive(nse: ManagedProc): void {
    const n = (this.yieldsSent.get(nse) ?? 0) + 1;
    this.yieldsSent.set(nse, n);
    nse.send({ type: 'app-state', active: true, id: n });
  }

  /**
   * Forward a lifecycle event to the app. `active`: the foreground app wins —
   * a running NSE is asked to yield first and the app waits for it (bounded,
   * `yieldWaitMs`, as SimpleX's app waits up to 10 s) so the two processes
   * never GET the same queue at once.
   */
  async appLifecycle(event: LifecycleEvent, opts: { deadlineMs?: number; yieldWaitMs?: number; thread?: string; bgTask?: boolean } = {}): Promise<void> {
    // As on iOS, an app that was launched and has died (killed, crashed) is launched again when
    // the user brings it to the front; every other event has no process to go to.
    if (event === 'active' && this.app && !this.app.alive) {
      this.log('info', 'phase', 'app relaunched by foreground', { deadPid: this.app.pid });
      await this.launchApp(opts.thread !== undefined ? { thread: opts.thread } : {});
      return;
    }
    const app = this.app;
    if (!app?.alive) return;
    return this.activate(app, event, opts);
  }

  /** The user taps a notification of `threadId`: the app comes to the front routed to that conversation (launched if not running). */
  tap(threadId: string, opts: { yieldWaitMs?: number } = {}): Promise<void> {
    this.log('info', 'push', 'tap', { threadId });
    if (!this.app) return this.launchApp({ thread: threadId }).then(() => {});
    return this.appLifecycle('active', { ...opts, thread: threadId });
  }

  private async activate(app: ManagedProc, event: LifecycleEvent = 'active', opts: { deadlineMs?: number; yieldWaitMs?: number; thread?: string; bgTask?: boolean } = {}): Promise<void> {
    if (app.stopped) this.thaw(app);
    const nse = this.nse;
    // From here on pushes are the app's (suppressed for the NSE): its wake sequence fetches them.
    if (event === 'active') (this.appState = 'active'), this.background.opened(); // opened by the user: no longer force-quit
    if (event === 'active' && nse?.alive && !nse.stopped) {
      const from = nse.events.length;
      // Numbered: a `yielded` for an earlier request (yieldId < n) does not answer this one.
      const n = (this.yieldsSent.get(nse) ?? 0) + 1;
      this.yieldsSent.set(nse, n);
      if (nse.send({ type: 'yield', id: n })) {
        const t0 = Date.now();
        await nse
          .waitFor((e) => e.name === 'yielded' && Number(e.yieldId ?? 0) >= n, { from, timeoutMs: opts.yieldWaitMs ?? 10_000, what: `yielded for yield request ${n}` })
          .then(() => this.log('info', 'lock', 'NSE yielded', { ms: Date.now() - t0 }))
          .catch(() => this.log('warn', 'lock', 'NSE did not yield in time; app goes ahead'));
      }
    } else if (event === 'active' && nse?.alive) {
      // Frozen: it cannot answer, so no wait — but the message waits in its socket and is
      // read once it is thawed: it yields then instead of GETting behind the app's back.
      this.tellAppActive(nse);
    }
    if (event !== 'lock' && event !== 'unlock') this.appState = event;
    if (event === 'background' || event === 'expiring' || event === 'suspend') this.leaveFrom.set(app, app.events.length);
    app.send({ type: 'lifecycle', event, ...(opts.deadlineMs !== undefined ? { deadlineMs: opts.deadlineMs } : {}), ...(event === 'active' && opts.thread !== undefined ? { thread: opts.thread } : {}), ...(opts.bgTask === false ? { bgTask: false } : {}) });
    if (event === 'background' || event === 'expiring' || event === 'suspend') void this.nseMayFetch();
  }

  /**
   * The app left the foreground: once it has really left `active` (its fetch in
   * flight done), tell the NSE it may GET again — unless the user opened the app
   * again meanwhile (then a yield is on its way, and `false` must not overtake it).
   */
  private async nseMayFetch(): Promise<void> {
    await this.appLeftForeground();
    if (this.appState === 'active') return;
    const nse = this.nse;
    if (nse?.alive) nse.send({ type: 'app-state', active: false });
  }

  /**
   * The app was told to leave the foreground but may still be finishing a fetch:
   * wait (bounded) until it reports a non-active phase, so the NSE never GETs a
   * queue the app is still fetching.
   */
  private async appLeftForeground(timeoutMs = 2_000): Promise<void> {
    const app = this.app;
    if (!app?.alive || app.stopped || this.appState === 'active') return;
    const from = this.leaveFrom.get(app);
    if (from === undefined) return; // never sent away (the state is not active: it was never launched into the front)
    // `left-front`: background (no new receive) and no receive in flight (a GET not ACKed yet).
    await app.waitFor((e) => e.name === 'left-front', { from, timeoutMs, what: 'app leaving the foreground' }).catch(() => {
      this.log('warn', 'push', 'app did not report leaving the foreground; NSE goes ahead');
    });
  }

  /** The app is in front and running: it receives by itself, the NSE is not needed. */
  get appInForeground(): boolean {
    return this.appState === 'active' && !!this.app?.alive && !this.app.stopped;
  }

  /** Device lock: the key leaves memory in every process. */
  lock(): void {
    this.locked = true;
    for (const p of [this.app, this.nse]) if (p?.alive && !p.stopped) p.send({ type: 'lifecycle', event: 'lock' });
  }

  /** Device unlock: hand the key (keychain) to every live process. Frozen ones get it when thawed. */
  unlock(): void {
    this.locked = false;
    for (const p of [this.app, this.nse]) {
      if (p?.alive && !p.stopped) p.send({ type: 'lifecycle', event: 'unlock', masterKey: this.masterKey });
    }
  }

  /** Thaw a frozen process and bring it up to date with the lock state. */
  thaw(p: ManagedProc): void {
    if (!p.alive) return;
    p.signal('SIGCONT');
    p.send(this.locked ? { type: 'lifecycle', event: 'lock' } : { type: 'lifecycle', event: 'unlock', masterKey: this.masterKey });
  }

  /**
   * SIGSTOP, as iOS freezes a suspended process. If the kernel says the process
   * holds the shared lock file, that is a 0xdead10cc: record it and SIGKILL.
   */
  /** `stop` has begun. */
  private stopping = false;

  freeze(p: ManagedProc): 'frozen' | 'killed' | 'gone' {
    if (!p.alive) return 'gone';
    p.signal('SIGSTOP');
    if (this.holdsLock(p.pid)) {
      this.violations.push({ kind: '0xdead10cc', pid: p.pid, role: p.role, at: Date.now() });
      this.log('error', 'lock', '0xdead10cc: frozen while holding the shared lock', { pid: p.pid, role: p.role });
      p.signal('SIGKILL');
      return 'killed';
    }
    return 'frozen';
  }

  /** Does `pid` hold an flock on the shared lock file? (the kernel's view, /proc/locks) */
  holdsLock(pid: number): boolean {
    return flockHolders(join(this.sharedDir, SHARED_FILES.lock)).includes(pid);
  }

  /** Stop every process (reaped) and the push listener. */
  async stop(): Promise<void> {
    this.stopping = true;
    const procs = [this.app, ...this.nseHistory].filter((p): p is ManagedProc => !!p);
    await Promise.all(procs.map((p) => p.stop(2_000)));
    await this.listener.stop();
  }
}
