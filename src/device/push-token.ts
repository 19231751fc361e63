/**
 * The push-token side of the simulated phone (docs/processes.md "Push tokens"): the OS hands the
 * app a new token (APNs rotates tokens, e.g. after a restore), and the user logs out or in. The
 * app session does the rest: it registers the new token at the relay, deactivates it at logout.
 */
import { randomBytes } from 'node:crypto';
import { NsekitError } from '../core/errors.js';
import type { Device } from './device.js';

/**
 * A new token: registered at the gateway for this device, the old one invalidated there (a push
 * still addressed to it is answered 410, and the relay drops it), then handed to a running app.
 * An app not running gets it in its configuration at the next launch.
 */
export async function changeDeviceToken(
  device: Device,
  opts: { token?: string; gatewayUrl?: string; deviceUrl?: string } = {},
): Promise<string> {
  const token = opts.token ?? randomBytes(16).toString('hex');
  const old = device.token;
  device.token = token;
  const gw = opts.gatewayUrl ?? device.gatewayUrl;
  if (gw) {
    // Where the gateway delivers (the simulator puts its push hold in between).
    const res = await fetch(`${gw.replace(/\/$/, '')}/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token, deviceUrl: opts.deviceUrl ?? device.deviceUrl }),
    });
    if (!res.ok) throw new NsekitError('PROTO_INTERNAL', `push gateway refused the new token: HTTP ${res.status}`, { status: res.status });
    const inv = await fetch(`${gw.replace(/\/$/, '')}/invalidate`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: old }) });
    if (!inv.ok) throw new NsekitError('PROTO_INTERNAL', `push gateway refused to invalidate the old token: HTTP ${res.status}`, { status: res.status });
  }
  if (device.app?.alive) device.app.send({ type: 'token', token });
  return token;
}

/** The user logs out / in, in the app's UI: false (nothing done) when the app is not running. */
export function deviceAccount(device: Device, action: 'logout' | 'login'): boolean {
  const app = device.app;
  if (!app?.alive) return false;
  return app.send({ type: 'account', action });
}
