/**
 * The app of a fast run as an iOS host runs it: the bridge bundle (nsekit-app.js, loaded in a bare
 * vm realm as the conformance runner loads it) on a host over the world's services
 * (./sim-app-host.ts), driven the way host-contract.md's lifecycle table and docs/ios-porting.md §4
 * say a host drives it: the launch is `createCore` (with the key if the device is unlocked), the
 * device's "app active" `appDidBecomeActive` (with the thread of a tapped notification), "app in
 * background" `appDidEnterBackground`, the background task's expiry `backgroundTaskWillExpire`,
 * protected data `protectedDataWillBecomeUnavailable` / `protectedDataDidBecomeAvailable(key)`,
 * a user's message `send`, a background window `window`, the Settings toggle `settings`, a new push
 * token `pushTokenChanged`, the account screen `logout` / `login`. The
 * relay's SUB deliveries and a dropped connection reach it as the runner's host steps. Every call
 * in and out is recorded by a RecordLoop: the app's conformance transcript.
 *
 * The world sees it through the methods it calls on an App (onLifecycle, send, onWindow,
 * onSettings, logout, login) and the session events the core hands the host, which go to the
 * process as its own (the device's rules read them: left-front, suspended).
 */
import { toHex } from '../../src/core/bytes.js';
import type { LifecycleMsg, PushTokenState, SessionEventName, SettingsMsg, WindowMsg } from '../../src/core/session/index.js';
import type { SimProc } from '../fast/proc.js';
import type { FastWorld } from '../fast/world.js';
import { queueKeysOf, startCore, type LoadedBundle } from './bridged-core.js';
import { RecordLoop, START_MS } from './record-loop.js';
import { simAppHost } from './sim-app-host.js';

/** The world's lifecycle events → the facade calls a host makes for them (host-contract.md "Lifecycle mapping"). */
const LIFECYCLE_CALLS: Partial<Record<LifecycleMsg['event'], string>> = {
  active: 'appDidBecomeActive',
  background: 'appDidEnterBackground',
  expiring: 'backgroundTaskWillExpire',
  lock: 'protectedDataWillBecomeUnavailable',
  unlock: 'protectedDataDidBecomeAvailable',
};

export class BridgedApp {
  readonly loop: RecordLoop;
  readonly config: Record<string, unknown>;
  /** What the world did that a host could not turn into facade calls (the transcript is refused). */
  readonly problems: string[] = [];
  private readonly hostProblems: string[];
  /** createCore got the key: the launch's `unlock` command is already applied. */
  private launchUnlock: boolean;
  /** Waiting for the facade step of that index to settle. */
  private readonly outputs = new Map<number, (value: unknown) => void>();
  /** `applied` callbacks of `appDidBecomeActive` steps that fired: run at the next phaseChanged("active"). */
  private activating: (() => void)[] = [];

  constructor(
    private readonly w: FastWorld,
    private readonly p: SimProc,
    bundle: LoadedBundle,
  ) {
    this.loop = new RecordLoop(bundle.realm, w.sched, p.ctx.owner, w.sched.now);
    const cfg = p.rt.cfg;
    this.launchUnlock = !w.locked;
    const statusKeys: Record<string, string> = {};
    for (const q of cfg.queues) if (q.statusKey) statusKeys[q.queueId] = q.statusKey;
    // As the shipping App's session config (sim/fast/world-core.ts baseConfig); the app registers the device's push
    // token itself, as the shipping app does through the world's token port (sim/fast/push-tokens.ts): the token iOS
    // gives now, the registration state persisted by earlier launches, the port's platform and version.
    // Its `at` is on the world's clock; the core's clock is the transcript's (START_MS at createCore).
    const st = w.tokens.state;
    const toCoreMs = START_MS - w.sched.now;
    this.config = {
      role: 'app',
      ...(this.launchUnlock ? { masterKeyHex: toHex(w.masterKey) } : {}),
      queueKeys: queueKeysOf(w),
      sendQueues: [...w.queueIds],
      ...(cfg.mode ? { mode: cfg.mode } : {}),
      ...(Object.keys(statusKeys).length ? { statusKeys } : {}),
      ...(cfg.pollIntervalMs !== undefined ? { pollIntervalMs: cfg.pollIntervalMs } : {}),
      ...(cfg.appExpiryDeadlineMs !== undefined ? { drainDeadlineMs: cfg.appExpiryDeadlineMs } : {}),
      pushToken: w.tokens.token,
      pushTokenState: { registered: st.registered ? { token: st.registered.token, at: st.registered.at + toCoreMs } : null, loggedOut: st.loggedOut, deactivatePending: st.deactivatePending },
      platform: 'ios',
      appVersion: 'sim',
    };
    const realm = bundle.realm;
    const { host, problems } = simAppHost(
      w,
      p,
      this.loop,
      {
        phaseChanged: (phase) => {
          void p.ctx.hit('phase.enter', { phase });
          if (phase === 'suspended') void p.ctx.hit('phase.suspended', { phase });
          if (phase === 'active') for (const f of this.activating.splice(0)) f();
        },
        sessionEvent: (name, fields) => p.sessionEvent(name as SessionEventName, { ...fields }),
        yieldRecord: (request) => (request ? p.lock.requestYield() : p.lock.withdrawYield()),
        pushTokenSave: (state) => {
          const x = state as PushTokenState;
          w.tokens.state = { registered: x.registered ? { token: x.registered.token, at: x.registered.at - toCoreMs } : null, loggedOut: x.loggedOut, deactivatePending: x.deactivatePending };
        },
      },
      <T>(v: T) => realm.JSON.parse(JSON.stringify(v)) as T,
    );
    this.hostProblems = problems;
    this.loop.onOutput = (_call, _ok, step, value) => {
      const f = this.outputs.get(step);
      this.outputs.delete(step);
      f?.(value);
    };
    startCore(this.loop, bundle, host, this.config);
    // iOS gives the app a new token (the world's token-change): didRegisterForRemoteNotificationsWithDeviceToken.
    w.tokens.port().onChange((t) => void this.call('pushTokenChanged', [t]));
  }

  /** Why the transcript cannot be: the host's and the lifecycle's. */
  refusals(): string[] {
    return [...this.problems, ...this.hostProblems];
  }

  /** A facade call the device makes now; resolves with its value once it settled in the loop. */
  private call(name: string, args?: unknown[], onFire?: () => void): Promise<unknown> {
    return new Promise((resolve) => {
      this.outputs.set(this.loop.steps.length, resolve);
      this.loop.step(name, args, onFire);
    });
  }

  // ---- what the device does (the App methods the world calls) ----------------------------------

  onLifecycle(m: LifecycleMsg, applied?: () => void): Promise<void> {
    const launch = this.launchUnlock;
    this.launchUnlock = false;
    // The launch's unlock: createCore had the key (the core applied it as its first command).
    if (m.event === 'unlock' && launch) return Promise.resolve().then(() => applied?.());
    const call = LIFECYCLE_CALLS[m.event];
    if (!call || (m.event === 'background' && m.bgTask === false)) {
      this.problems.push(`lifecycle ${m.event}${m.bgTask === false ? ' without a background task' : ''} has no facade call`);
      return Promise.resolve().then(() => applied?.());
    }
    const args = m.event === 'unlock' ? [toHex(this.w.masterKey)] : m.event === 'active' && m.thread !== undefined ? [m.thread] : undefined;
    const fired = m.event === 'active' && applied ? () => void this.activating.push(applied) : undefined;
    return this.call(call, args, fired).then(() => applied?.());
  }

  send(queueId: string, text: string, clientId?: string): Promise<string> {
    return this.call('send', clientId === undefined ? [queueId, text] : [queueId, text, clientId]).then(() => clientId ?? '');
  }

  onWindow(m: WindowMsg): Promise<unknown> {
    return this.call('window', m.queueId === undefined ? [m.kind, m.budgetMs] : [m.kind, m.budgetMs, m.queueId]);
  }

  onSettings(m: SettingsMsg): void {
    void this.call('settings', [m.backgroundRefresh === undefined ? {} : { backgroundRefresh: m.backgroundRefresh }]);
  }

  logout(): Promise<void> {
    return this.call('logout').then(() => {});
  }
  login(): Promise<void> {
    return this.call('login').then(() => {});
  }

  /** After the run: the user leaves the app and its background task expires, so it ends quiescent (no SUB, no ping timer). */
  leave(): void {
    if (this.loop.core?.phase?.() === 'suspended') return;
    this.loop.step('appDidEnterBackground');
    this.loop.step('backgroundTaskWillExpire');
  }
}
