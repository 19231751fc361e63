/**
 * The read state in the bridge (host-contract.md "Read state"): its four store functions are
 * required in both roles, and the config that lets a read on another device apply
 * (`conversations`, `deviceSyncQueue`) is checked at createCore. What the functions do in a run is
 * in the transcripts (44-app-tap-read, 45-nse-read-not-shown, 46-nse-remote-read, 47-app-remote-read).
 */
import { describe, expect, it } from 'vitest';
import { createCore as createApp } from '../../src/core/bridge/app.js';
import { APP_HOST_FUNCTIONS, NSE_HOST_FUNCTIONS, type BridgeConfig } from '../../src/core/bridge/contract.js';
import { createCore as createNse } from '../../src/core/bridge/nse.js';

const READ_FNS = ['storeUnreadCount', 'storeIsRead', 'storeMarkThreadRead', 'storeThreadLastTs'];
const K = '22'.repeat(32);

/** A host object with every function of `fns` (none is called: createCore fails first or the test ends). */
function host(fns: readonly string[], omit: string[] = []): Record<string, unknown> {
  const h: Record<string, unknown> = {};
  for (const f of fns) if (!omit.includes(f)) h[f] = () => undefined;
  h.now = () => 0;
  h.setTimer = () => 1;
  return h;
}
function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    return `${(e as { code?: string }).code}: ${(e as Error).message}`;
  }
  return 'accepted';
}

describe('bridge read state: required host functions and the read-sync config', () => {
  it('both host lists have the four read-state functions', () => {
    for (const f of READ_FNS) {
      expect(NSE_HOST_FUNCTIONS as readonly string[]).toContain(f);
      expect(APP_HOST_FUNCTIONS as readonly string[]).toContain(f);
    }
  });

  it.each(READ_FNS)('a host without %s is refused in both roles (no degraded mode)', (fn) => {
    const nse = refusal(() => createNse(host(NSE_HOST_FUNCTIONS, [fn]) as never, { role: 'nse', queueKeys: { q1: K } }));
    expect(nse).toMatch(new RegExp(`^BRIDGE_BAD_INPUT: .*host lacks ${fn}$`));
    const app = refusal(() => createApp(host(APP_HOST_FUNCTIONS, [fn]) as never, { role: 'app', queueKeys: { q1: K } }));
    expect(app).toMatch(new RegExp(`^BRIDGE_BAD_INPUT: .*host lacks ${fn}`));
  });

  it('deviceSyncQueue must be one of queueKeys; a conversation must be a string', () => {
    const nse = (c: Partial<BridgeConfig>) => refusal(() => createNse(host(NSE_HOST_FUNCTIONS) as never, { role: 'nse', queueKeys: { q1: K, qs: K }, ...c }));
    expect(nse({ deviceSyncQueue: 'nope' })).toMatch(/^BRIDGE_BAD_INPUT: .*deviceSyncQueue/);
    expect(nse({ conversations: { q1: 7 as unknown as string } })).toMatch(/^BRIDGE_BAD_INPUT: .*conversations\.q1/);
    expect(nse({ deviceSyncQueue: 'qs', conversations: { q1: 'c1' } })).toBe('accepted');
  });
});
