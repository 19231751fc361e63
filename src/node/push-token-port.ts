/**
 * The Node host's push-token port (src/core/session/ports.ts PushTokenPort): the token the device
 * (the OS) hands the app — at launch in the process configuration, later over IPC (`token`) — and
 * the app's persisted registration state, a small JSON file in the app-group directory (what
 * UserDefaults holds on iOS). The file holds the token itself, as UserDefaults would; logs never do.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tokenSource, type PushTokenPort, type PushTokenState } from '../core/session/index.js';

export const PUSH_TOKEN_STATE_FILE = 'push-token.json';

export interface NodePushTokenPort extends PushTokenPort {
  /** The device gave a new token (or took it back). */
  setToken(token: string | null): void;
}

export function nodePushTokenPort(o: { statePath: string; token: string | null; platform?: string; appVersion?: string }): NodePushTokenPort {
  const empty: PushTokenState = { registered: null, loggedOut: false, deactivatePending: false };
  return {
    platform: o.platform ?? 'ios',
    appVersion: o.appVersion ?? '1.0.0',
    ...tokenSource(o.token),
    load() {
      try {
        return { ...empty, ...(JSON.parse(readFileSync(o.statePath, 'utf8')) as Partial<PushTokenState>) };
      } catch {
        return { ...empty }; // never written (first launch) or torn: register again, which is harmless
      }
    },
    save(s) {
      // Whole file or the old one: a torn write would only cost a repeated registration, but costs nothing to avoid.
      const tmp = `${o.statePath}.tmp`;
      writeFileSync(tmp, JSON.stringify(s));
      renameSync(tmp, o.statePath);
    },
  };
}
