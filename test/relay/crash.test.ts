import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fromBase64 } from '../../src/core/bytes.js';
import { openNotificationId } from '../../src/core/protocol/notification-id.js';
import { silentLog } from '../../src/node/host.js';
import { startPushGateway, type RunningPushGateway } from '../../src/relay/push-gateway.js';
import { DeviceListener, bytes, client, registerDevice, tempDir, text } from './fixtures.js';

const ENTRY = fileURLToPath(new URL('./relay-proc.ts', import.meta.url));

/** Starts `nsekit relay` (via runRelayCli) as a child process; resolves with its ws URL. */
function spawnRelay(args: string[], procs: ChildProcess[]): Promise<string> {
  const p = spawn(process.execPath, ['--import', 'tsx', ENTRY, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NSEKIT_LOG: 'warn' } });
  procs.push(p);
  let stderr = '';
  p.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve, reject) => {
    const rl = createInterface({ input: p.stdout! });
    rl.on('line', (line) => {
      const m = /^relay (ws:\/\/\S+)/.exec(line);
      if (m) resolve(m[1]!);
    });
    p.once('exit', (code) => reject(new Error(`relay exited early (${code}): ${stderr}`)));
  });
}

function killAndReap(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    p.once('exit', () => resolve());
    p.kill('SIGKILL');
  });
}

describe('relay process killed with SIGKILL', () => {
  let tmp: ReturnType<typeof tempDir>;
  const procs: ChildProcess[] = [];
  let gw: RunningPushGateway | undefined;
  let device: DeviceListener | undefined;

  beforeEach(() => {
    tmp = tempDir();
  });
  afterEach(async () => {
    for (const p of procs.splice(0)) await killAndReap(p);
    await gw?.close();
    await device?.close();
    tmp.cleanup();
  });

  it('loses no acknowledged SEND and no pending notification', async () => {
    const token = 'c0ffee'.repeat(10);
    const url1 = await spawnRelay(['--db', tmp.db, '--port', '0'], procs);
    const c1 = await client(url1);
    const q = await c1.createQueue();
    const { notifierKey } = await c1.nsub(q.queueId, token);
    for (const s of ['k1', 'k2', 'k3']) await c1.send(q.queueId, bytes(s), { notification: true });
    const closed = new Promise<void>((r) => c1.onClose(() => r()));
    await killAndReap(procs[0]!); // every SEND above was answered OK, so it must survive
    await closed;

    device = await new DeviceListener().start();
    gw = await startPushGateway({ log: silentLog });
    await registerDevice(gw.url, token, device.url);
    const url2 = await spawnRelay(['--db', tmp.db, '--port', '0', '--push-gateway', gw.url, '--coalesce-ms', '50'], procs);
    await device.waitFor(1);
    const pushedIds = device.pushes.flatMap((p) => p.nids!).map((n) => openNotificationId(notifierKey, n.notifierId, fromBase64(n.sealed)!).msgId);

    const c2 = await client(url2);
    try {
      c2.setQueueCreds(q.queueId, q);
      const got: Array<[string, string]> = [];
      for (let i = 0; i < 4; i++) {
        const m = await c2.get(q.queueId);
        if (!m) break;
        got.push([m.msgId, text(m.body)]);
        await c2.ack(q.queueId, m.msgId);
      }
      expect(got.map((g) => g[1])).toEqual(['k1', 'k2', 'k3']);
      expect(pushedIds).toEqual(got.map((g) => g[0]));
    } finally {
      await c2.close();
    }
  });
});
