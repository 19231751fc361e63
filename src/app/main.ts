/**
 * The app process entry, spawned by the device with NSEKIT_CONFIG and an IPC
 * channel (see src/device/ipc.ts): bundled through src/device/launcher.cjs, or
 * unbundled with `node --import tsx src/app/main.ts`.
 */
import { saveCodeCache } from '../device/code-cache.js';
import { emitEvent, onCommand, readConfig, runEntry } from '../device/ipc.js';
import { ProcRuntime } from '../device/runtime.js';
import { App } from './app.js';

async function main(): Promise<void> {
  const cfg = readConfig();
  const rt = await ProcRuntime.create({ ...cfg, role: 'app' });
  const app = new App(rt);

  async function shutdown(code: number): Promise<never> {
    app.realtime.close();
    app.poller.stop();
    await Promise.race([rt.close(), new Promise((r) => setTimeout(r, 2_000))]);
    process.exit(code);
  }

  onCommand((c) => {
    switch (c.type) {
      case 'lifecycle':
        void app.onLifecycle(c).catch((e) => rt.errorEvent(`lifecycle ${c.event}`, e));
        return;
      case 'send':
        void app
          .serial(async () => {
            await app.outbox.enqueue(c.queueId, c.text, c.clientId);
            if (rt.phase.phase === 'active') await app.outbox.drain();
          })
          .catch((e) => rt.errorEvent('send', e));
        return;
      case 'query':
        void app.serial(async () => {
          const count = rt.store.isOpen && rt.unlocked ? await rt.store.countMessages() : null;
          const outbox = rt.store.isOpen && rt.unlocked ? (await rt.store.outboxPending()).length : null;
          emitEvent('status', { role: 'app', phase: rt.phase.phase, mode: app.mode, rt: app.realtime.state, stored: count, outbox, unlocked: rt.unlocked });
        }).catch((e) => rt.errorEvent('query', e));
        return;
      case 'shutdown':
        void shutdown(0);
        return;
      case 'yield':
      case 'app-state':
      case 'push':
        return; // NSE commands
    }
  });
  // The device owns us: if it goes away, so do we (no orphans).
  process.on('disconnect', () => void shutdown(0));

  try {
    await rt.start();
    emitEvent('ready', { role: 'app', pid: process.pid, bootMs: Math.round(performance.now()), mode: app.mode });
    saveCodeCache();
  } catch (e) {
    rt.errorEvent('app start', e);
    await shutdown(1);
  }
}

runEntry('app', main);
