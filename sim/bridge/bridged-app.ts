/**
 * The app of a fast run as an iOS host runs it: the bridge bundle (nsekit-app.js, loaded in a bare
 * vm realm as the conformance runner loads it) on a host over the world's services
 * (./sim-app-host.ts), driven the way host-contract.md's lifecycle table and docs/ios-porting.md §4
 * say a host drives it: the launch is `createCore` (with the key if the device is unlocked), the
 * device's "app active" `appDidBecomeActive` (with the thread of a tapped notification), "app in
 * background" `appDidEnterBackground`, the background task's expiry `backgroundTaskWillExpire`,
 * protected data `protectedDataWillBecomeUnavailable` / `protectedDataDidBecomeAvailable(key)`,
 * a user's message `send`, a background window `window`, the Settings toggle `settings`. The
 * relay's SUB deliveries and a dropped connection reach it as the runner's host steps. Every call
 * in and out is recorded by a RecordLoop: the app's conformance transcript.
 *
 * The world sees it through the methods it calls on an App (onLifecycle, send, onWindow,
 * onSettings, logout, login) and the session events the core hands the host, which go to the
 * process as its own (the device's rules read them: left-front, suspended).
 */
import { toHex } from '../../src/core/bytes.js';
import type { LifecycleMsg, SessionEventName, SettingsMsg, WindowMsg } from '../../src/core/session/index.js';
import type { SimProc } from '../fast/proc.js';
import type { FastWorld } from '../fast/world.js';
import { queueKeysOf, startCore, type LoadedBundle } from './bridged-core.js';
import { RecordLoop } from './record-loop.js';
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
  /** The device's push token at launch. */
  private readonly token0: string;

  constructor(
    private readonly w: FastWorld,
    private readonly p: SimProc,
    bundle: LoadedBundle,
  ) {
    this.loop = new RecordLoop(bundle.realm, w.sched, p.ctx.owner, w.sched.now);
    this.token0 = w.tokens.token;
    const cfg = p.rt.cfg;
    this.launchUnlock = !w.locked;
    const statusKeys: Record<string, string> = {};
    for (const q of cfg.queues) if (q.statusKey) statusKeys[q.queueId] = q.statusKey;
    // As the shipping App's session config (sim/fast/world-core.ts baseConfig); the host registers the push token (no `pushToken`).
    this.config = {
      role: 'app',
      ...(this.launchUnlock ? { masterKeyHex: toHex(w.masterKey) } : {}),
      queueKeys: queueKeysOf(w),
      sendQueues: [...w.queueIds],
      ...(cfg.mode ? { mode: cfg.mode } : {}),
      ...(Object.keys(statusKeys).length ? { statusKeys } : {}),
      ...(cfg.pollIntervalMs !== undefined ? { pollIntervalMs: cfg.pollIntervalMs } : {}),
      ...(cfg.appExpiryDeadlineMs !== undefined ? { drainDeadlineMs: cfg.appExpiryDeadlineMs } : {}),
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
  }

  /** Why the transcript cannot be: the host's and the lifecycle's. */
  refusals(): string[] {
    // The OS rotated the token: the shipping app registers the new one; this host registers none (no config.pushToken).
    const token = this.w.tokens.token !== this.token0 ? ['token-change: the recording host registers the push token itself (no config.pushToken)'] : [];
    return [...this.problems, ...token, ...this.hostProblems];
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

  // The recording's host registers the push token itself (no config.pushToken): no account calls.
  logout(): Promise<void> {
    this.problems.push('logout: the recording host registers the push token itself (no config.pushToken)');
    return Promise.resolve();
  }
  login(): Promise<void> {
    this.problems.push('login: the recording host registers the push token itself (no config.pushToken)');
    return Promise.resolve();
  }

  /** After the run: the user leaves the app and its background task expires, so it ends quiescent (no SUB, no ping timer). */
  leave(): void {
    const phase = (this.loop.core?.phase as (() => string) | undefined)?.();
    if (phase === 'suspended') return;
    this.loop.step('appDidEnterBackground');
    this.loop.step('backgroundTaskWillExpire');
  }
}
