import { afterEach, describe, expect, it } from 'vitest';
import type { Log } from '../../src/core/host.js';
import { UserDevices } from '../../src/cli/user-devices.js';
import { changeDeviceToken } from '../../src/device/push-token.js';
import { useWorld } from '../helpers/e2e-world.js';

/**
 * The log tags of docs/processes.md "Log tags" (seed 003's list), checked on real processes:
 * the app and NSE processes' stderr lines and the relay's / device's log, captured as one stream.
 */
describe('e2e: tagged logs', () => {
  const world = useWorld();
  const users: UserDevices[] = [];
  afterEach(async () => {
    await Promise.all(users.splice(0).map((u) => u.stop()));
  });

  it('[auth] [rt] [sync] [outbox] [push] token:registered and notify:fanout appear as specified; no line holds a whole token', async () => {
    const lines: string[] = [];
    // Same shape as the processes' stderr lines (src/node/host.ts stderrLog): `[tag] msg k=v`.
    const log: Log = {
      log: (_level, tag, msg, fields) =>
        lines.push(`relay-or-device [${tag}] ${msg}${fields ? ' ' + Object.entries(fields).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' ') : ''}`),
    };
    const w = await world({ queues: 1, appCanSend: true, log, procOpts: { stderr: 'pipe', onLog: (l) => lines.push(l) }, procConfig: { nseGraceMs: 300 } });
    const u = new UserDevices(w);
    users.push(u);
    await u.addDevices(1);
    const [d1, d2] = u.devices as [NonNullable<(typeof u.devices)[0]>, NonNullable<(typeof u.devices)[1]>];
    const firstToken = d1.token;

    await d1.launchApp();
    await d1.waitEvent('app', 'wake');
    await d1.waitEvent('app', 'push-token', (e) => e.state === 'registered');
    const from = d1.events.length;
    d1.app!.send({ type: 'send', queueId: w.queues[0]!.queueId, text: 'from the app' });
    await d1.waitEvent('app', 'outbox', (e) => e.state === 'sent', { from });
    // A fan-out to the user's two devices: device 2's app is not running, its NSE takes the push.
    const from2 = d2.events.length;
    await u.send(0, 'to both devices');
    await d2.waitEvent('nse', 'notification', (e) => e.body === 'to both devices', { from: from2, timeoutMs: 40_000 });
    await d1.waitEvent('app', 'stored', (e) => !e.duplicate, { from });
    // The OS rotates device 1's token while its app is in front: registered again at once.
    const from3 = d1.events.length;
    const secondToken = await changeDeviceToken(d1);
    await d1.waitEvent('app', 'push-token', (e) => e.state === 'registered' && e.reason === 'change', { from: from3 });
    await w.relay.pushIdle();

    const has = (re: RegExp) => expect(lines.some((l) => re.test(l)), `a log line matching ${re}`).toBe(true);
    has(/ app INFO \[auth\] writes:ready$/);
    has(/ app INFO \[push\] wake reason=resume$/);
    has(new RegExp(` app INFO \\[push\\] token:registered ios ${firstToken.slice(0, 6)}… appVersion=1\\.0\\.0 queues=1 reason=launch$`));
    has(new RegExp(` app INFO \\[push\\] token:registered ios ${secondToken.slice(0, 6)}… .*reason=change$`));
    has(/ app INFO \[rt\] rebuild channel=[0-9a-f]{8} status=subscribed$/);
    has(/ app INFO \[sync\] start queue=[0-9a-f]{32} since=\d+$/);
    has(/ app INFO \[sync\] merged count=\d+ /);
    has(/ app INFO \[outbox\] drain start count=1$/);
    has(new RegExp(`^relay-or-device \\[push\\] notify:fanout group=${u.groups[0]!.groupId.slice(0, 6)}… recipients=2 `));
    // Never a whole token (nor the group id) in any line, from any process.
    const secrets = [firstToken, secondToken, d2.token, u.groups[0]!.groupId, u.groups[0]!.groupCred];
    const leaks = lines.filter((l) => secrets.some((s) => l.includes(s)));
    expect(leaks).toEqual([]);
    expect(lines.length).toBeGreaterThan(20);
  });
});
