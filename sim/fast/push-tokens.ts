/**
 * Push tokens in the fast mode (docs/processes.md "Push tokens"): the device's token as the OS
 * hands it (the `token-change` verb rotates it and invalidates the old one at the gateway), the
 * relay's per-queue registration (NSUB / NDEL through SimTransport), and the app's persisted
 * registration state (UserDefaults: it survives an app relaunch). The app session's own code
 * (src/core/session/app/push-token.ts) decides when to register and deactivate; nothing of that
 * is modelled here.
 *
 * The world starts as the harness left it in real mode: every queue registered for the first
 * token, and the app's state saying so — an app launch with that token sends no NSUB.
 */
import type { PushTokenPort, PushTokenState } from '../../src/core/session/index.js';
import type { FastRecorder } from './recorder.js';

export class SimPushTokens {
  /** The token the OS gives the app now. */
  token = 'simtok1';
  private seq = 1;
  /** Relay side: each queue's token and whether it is active (NDEL at logout clears `active`). */
  readonly relay = new Map<string, { token: string; active: boolean }>();
  /** Gateway side: tokens it answers 410 for. */
  readonly invalid = new Set<string>();
  /** The app's persisted registration state (shared by every app instance, as UserDefaults is). */
  state: PushTokenState;
  private live: { fire: (t: string | null) => void } | null = null;

  constructor(
    queueIds: readonly string[],
    /** A second device's tokens are its own (docs/scenarios.md "A second device"). */
    private readonly prefix = 'simtok',
  ) {
    this.token = `${prefix}1`;
    for (const q of queueIds) this.relay.set(q, { token: this.token, active: true });
    this.state = { registered: { token: this.token, at: 0 }, loggedOut: false, deactivatePending: false };
  }

  /** The port of one app instance (a relaunch gets a new one; only the live one hears changes). */
  port(): PushTokenPort {
    const listeners = new Set<(t: string | null) => void>();
    this.live = { fire: (t) => listeners.forEach((fn) => fn(t)) };
    return {
      platform: 'ios',
      appVersion: 'sim',
      current: () => this.token,
      onChange(fn) {
        listeners.add(fn);
        return () => listeners.delete(fn);
      },
      load: () => ({ ...this.state, registered: this.state.registered ? { ...this.state.registered } : null }),
      save: (s) => (this.state = { ...s, registered: s.registered ? { ...s.registered } : null }),
    };
  }

  /** The OS rotates the token: the old one is invalid at once. Returns the new one. */
  change(): string {
    this.invalid.add(this.token);
    this.token = `${this.prefix}${++this.seq}`;
    return this.token;
  }

  /** Tell the live app instance (the caller delivers it as an IPC command would be). */
  announce(): void {
    this.live?.fire(this.token);
  }

  nsub(queueId: string, token: string): void {
    this.relay.set(queueId, { token, active: true });
  }
  ndel(queueId: string): void {
    const r = this.relay.get(queueId);
    if (r) r.active = false;
  }

  /** Whom a flagged SEND on `queueId` is pushed to (null: no active token, no push). */
  target(queueId: string): string | null {
    const r = this.relay.get(queueId);
    return r && r.active ? r.token : null;
  }

  /**
   * Does a flagged SEND on `queueId` lead to a push? Not without an active token (logged out,
   * dropped as invalid: `push.no-token`), nor to a token the OS rotated away — the gateway answers
   * 410 and the relay drops it (`push.invalid-token`); the message stays queued either way.
   */
  pushable(queueId: string, h: FastRecorder): boolean {
    const token = this.target(queueId);
    if (token === null) {
      h.info('relay', 'push.no-token', { queueId });
      return false;
    }
    if (this.invalid.has(token)) {
      h.info('relay', 'push.invalid-token', { queueId, dropped: this.dropInvalid(token) });
      return false;
    }
    return true;
  }

  /** The gateway answered 410 for `token`: the relay removes it from every queue (docs/protocol.md). */
  dropInvalid(token: string): number {
    let n = 0;
    for (const [q, r] of this.relay) if (r.token === token) (this.relay.delete(q), n++);
    return n;
  }
}
