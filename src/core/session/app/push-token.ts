import { isNsekitError } from '../../errors.js';
import type { PushTokenPort, PushTokenState } from '../ports.js';
import type { SessionRuntime } from '../runtime.js';

/**
 * A token or key as it may appear in a log or an event: its first 6 characters and an ellipsis
 * (the relay's `truncateSecret`, portable). A whole push token never leaves the session in text.
 */
export function truncateToken(s: string): string {
  return s.length <= 6 ? s : `${s.slice(0, 6)}…`;
}

/**
 * A registration older than this is repeated at the next launch even when the token did not
 * change: it refreshes the relay's "last seen" (docs/protocol.md "Push tokens").
 */
export const TOKEN_REFRESH_MS = 24 * 60 * 60 * 1000;

export type TokenReason = 'launch' | 'change' | 'login';

const NO_STATE: PushTokenState = { registered: null, loggedOut: false, deactivatePending: false };

/**
 * The app's side of the push-token lifecycle (docs/processes.md "Push tokens"). The app — not a
 * harness — registers the device's token for each of its queues (NSUB with platform and app
 * version) at the first wake after launch, again when the OS hands it a new token (the relay
 * moves notifications still pending for the old token to the new one), and deactivates it on
 * every queue at logout (NDEL). An invalid token is dropped by the relay when the gateway answers
 * 400/410; the app registers the fresh one the OS gives next, as any change.
 *
 * What was registered is persisted through the port (UserDefaults on iOS), so a relaunch with the
 * same token sends nothing unless the registration is older than TOKEN_REFRESH_MS.
 */
export class PushTokens {
  /** The token changed since the last registration: the next `ensure` registers whatever its age. */
  private changed = false;

  constructor(
    private readonly rt: SessionRuntime,
    private readonly port: PushTokenPort | undefined,
  ) {
    port?.onChange(() => {
      this.changed = true;
      this.onChange();
    });
  }

  /** Set by the app: a token change arrived (it runs `ensure('change')` in the lifecycle order). */
  onChange: () => void = () => {};

  get loggedOut(): boolean {
    return this.state().loggedOut;
  }

  private state(): PushTokenState {
    return this.port?.load() ?? NO_STATE;
  }

  private get usable(): boolean {
    return this.port !== undefined && typeof this.rt.transport.nsub === 'function';
  }

  /** A logout's NDELs are still owed (checked without awaiting: a wake with nothing to do stays as it was). */
  get deactivateOwed(): boolean {
    return this.port !== undefined && this.state().deactivatePending;
  }

  /** `ensure` has something to send: a token, logged in, and it is new, changed or its registration old. */
  due(): boolean {
    const { port } = this;
    if (!port || !this.usable) return false;
    const st = this.state();
    if (st.loggedOut) return false;
    const token = port.current();
    if (token === null) return this.changed; // (only to log that there is none)
    const fresh = st.registered !== null && st.registered.token === token && this.rt.host.clock.now() - st.registered.at < TOKEN_REFRESH_MS;
    return this.changed || !fresh;
  }

  /**
   * Register the current token on every queue if it is new, changed, or its registration is old.
   * Needs the socket (the caller connected it). A failure is reported and retried at the next wake.
   */
  async ensure(reason: TokenReason): Promise<void> {
    const { rt, port } = this;
    if (!port || !this.usable) return;
    const st = this.state();
    if (st.loggedOut) return;
    const token = port.current();
    if (token === null) {
      if (this.changed) rt.log('info', 'push', 'token:unavailable (the OS gave none; registering when it does)');
      this.changed = false;
      return;
    }
    if (!this.due()) return;
    const now = rt.host.clock.now();
    this.changed = false;
    try {
      for (const [queueId, q] of rt.queueCfg) {
        const nid = await rt.transport.nsub!(queueId, token, { platform: port.platform, appVersion: port.appVersion });
        // NSUB keeps a queue's notifier id: another one means the NSE's config cannot open this queue's pushes.
        if (q.notifierId !== undefined && q.notifierId !== nid.notifierId) {
          rt.log('warn', 'push', 'relay answered another notifier id than configured', { queueId });
        }
      }
    } catch (e) {
      this.changed = true; // the next wake tries again
      rt.log('warn', 'push', 'token:register failed (next wake retries)', { reason, code: isNsekitError(e) ? e.code : String(e) });
      throw e;
    }
    port.save({ ...st, registered: { token, at: now } });
    rt.log('info', 'push', `token:registered ${port.platform} ${truncateToken(token)}`, { appVersion: port.appVersion, queues: rt.queueCfg.size, reason });
    rt.emit('push-token', { state: 'registered', platform: port.platform, token: truncateToken(token), reason, queues: rt.queueCfg.size });
  }

  /** Logout: remembered first (a relaunch stays logged out), then NDEL on every queue. */
  async logout(): Promise<void> {
    const { port } = this;
    if (!port) return;
    port.save({ ...this.state(), loggedOut: true, deactivatePending: true });
    await this.retryDeactivate();
  }

  /** A logout whose NDELs did not all reach the relay: send them (again). Needs the socket. */
  async retryDeactivate(): Promise<void> {
    const { rt, port } = this;
    if (!port || !this.state().deactivatePending) return;
    if (typeof rt.transport.ndel === 'function') {
      await rt.ensureConnected();
      for (const queueId of rt.queueCfg.keys()) await rt.transport.ndel(queueId);
    }
    const st = this.state();
    const token = st.registered?.token ?? port.current();
    port.save({ ...st, registered: null, deactivatePending: false });
    rt.log('info', 'push', `token:deactivated ${port.platform} ${token ? truncateToken(token) : '-'}`, { queues: rt.queueCfg.size });
    rt.emit('push-token', { state: 'deactivated', platform: port.platform, ...(token ? { token: truncateToken(token) } : {}), queues: rt.queueCfg.size });
  }

  /** Login: registration happens at the next `ensure` (the caller runs a wake). */
  login(): void {
    const { port } = this;
    if (!port) return;
    port.save({ ...this.state(), loggedOut: false });
    this.changed = true;
  }
}
