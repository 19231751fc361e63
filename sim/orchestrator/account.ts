/**
 * The push-token verbs on real processes (docs/scenarios.md): `token-change` rotates the device's
 * token (registered at the gateway for the push hold, the old one invalidated), `logout` / `login`
 * are the user's, sent to the running app (src/device/push-token.ts). The app session does the
 * rest. A user still logged out at the end is logged in by the final heal (liveness needs it).
 */
import { changeDeviceToken, deviceAccount } from '../../src/device/push-token.js';
import type { HistoryRecorder } from '../history/index.js';
import type { SimWorld } from './world.js';

export class AccountSteps {
  /** The last account step was a logout. */
  loggedOut = false;

  constructor(
    private readonly w: SimWorld,
    private readonly h: HistoryRecorder,
  ) {}

  async step(verb: 'token-change' | 'logout' | 'login'): Promise<void> {
    if (verb === 'token-change') {
      this.h.invoke('orchestrator', 'token-change', {});
      await changeDeviceToken(this.w.device, { gatewayUrl: this.w.gateway.url, deviceUrl: this.w.pushHold.url });
      this.h.ok('orchestrator', 'token-change', {});
      return;
    }
    // The user does it in the app's UI: with no app running the step does nothing.
    const sent = deviceAccount(this.w.device, verb);
    if (sent) this.loggedOut = verb === 'logout';
    this.h.ok('orchestrator', verb, sent ? {} : { skipped: 'app not running' });
  }

  /** After the final foreground: log a logged-out user in again (the app runs its wake). True if it sent the login. */
  finalLogin(): boolean {
    if (this.loggedOut && deviceAccount(this.w.device, 'login')) {
      this.loggedOut = false;
      this.h.ok('orchestrator', 'login', { final: true });
      return true;
    }
    return false;
  }
}
