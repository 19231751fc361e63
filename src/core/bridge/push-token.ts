/**
 * The app bundle's push-token port (src/core/session/ports.ts PushTokenPort; the Node host's is
 * src/node/push-token-port.ts): the token iOS gives the app — `config.pushToken` at launch, later
 * the facade's `pushTokenChanged` — and the registration state the app persists, which the host
 * keeps in UserDefaults (`host.pushTokenSave`, handed back as `config.pushTokenState`). The state
 * is read synchronously by the session, so the port keeps it in memory and writes through.
 * Contract: ios-bridge/host-contract.md "Push token".
 */
import { NsekitError } from '../errors.js';
import type { Host } from '../host.js';
import { tokenSource, type PushTokenPort, type PushTokenState } from '../session/ports.js';
import type { BridgeConfig, BridgeHost, WirePushTokenState } from './contract.js';
import { notify } from './setup.js';

const TOKEN_RE = /^[A-Za-z0-9_.:-]{1,200}$/;
const PLATFORM_RE = /^[a-z0-9]{1,16}$/;
const VERSION_RE = /^[A-Za-z0-9._+-]{1,32}$/;

export interface BridgePushTokenPort extends PushTokenPort {
  /** iOS gave a new token (or took it back: null). */
  setToken(token: string | null): void;
}

const bad = (what: string) => new NsekitError('BRIDGE_BAD_INPUT', what);

export function checkToken(t: unknown, what: string): string | null {
  if (t === null) return null;
  if (typeof t !== 'string' || !TOKEN_RE.test(t)) throw bad(`${what} must be null or 1–200 of [A-Za-z0-9_.:-]`);
  return t;
}

function checkState(s: WirePushTokenState | undefined): PushTokenState {
  if (s === undefined || s === null) return { registered: null, loggedOut: false, deactivatePending: false };
  const r = s.registered;
  const regOk = r === null || (typeof r === 'object' && typeof r.token === 'string' && TOKEN_RE.test(r.token) && Number.isFinite(r.at));
  if (typeof s !== 'object' || !regOk || typeof s.loggedOut !== 'boolean' || typeof s.deactivatePending !== 'boolean') {
    throw bad('pushTokenState must be {registered: {token, at} | null, loggedOut, deactivatePending}');
  }
  return { registered: r === null ? null : { token: r.token, at: r.at }, loggedOut: s.loggedOut, deactivatePending: s.deactivatePending };
}

/** Validate the config's push-token keys (BRIDGE_BAD_INPUT) before the session exists. */
export function checkPushTokenConfig(c: BridgeConfig): void {
  if (c.pushToken !== undefined) checkToken(c.pushToken, 'pushToken');
  checkState(c.pushTokenState);
  if (c.platform !== undefined && !(typeof c.platform === 'string' && PLATFORM_RE.test(c.platform))) throw bad('platform must be 1–16 of [a-z0-9]');
  if (c.appVersion !== undefined && !(typeof c.appVersion === 'string' && VERSION_RE.test(c.appVersion))) throw bad('appVersion must be 1–32 of [A-Za-z0-9._+-]');
}

export function bridgePushTokenPort(h: BridgeHost, host: Host, c: BridgeConfig): BridgePushTokenPort {
  let state = checkState(c.pushTokenState);
  return {
    platform: c.platform ?? 'ios',
    appVersion: c.appVersion ?? '1.0.0',
    ...tokenSource(checkToken(c.pushToken ?? null, 'pushToken')),
    load: () => ({ ...state, registered: state.registered ? { ...state.registered } : null }),
    save(s) {
      state = { ...s, registered: s.registered ? { ...s.registered } : null };
      const wire: WirePushTokenState = { registered: state.registered ? { ...state.registered } : null, loggedOut: state.loggedOut, deactivatePending: state.deactivatePending };
      notify(host, 'pushTokenSave', () => h.pushTokenSave!(wire));
    },
  };
}
