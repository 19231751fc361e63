/**
 * The app process: the app session (src/core/session/app) on the Node host,
 * driven by the device's IPC commands. `components` lets a simulation build
 * wrap parts (sim/real); the shipping entry (./main.ts) passes none.
 */
import { App, type SessionComponents } from '../core/session/index.js';
import { saveCodeCache } from '../device/code-cache.js';
import { emitEvent, onCommand, readConfig } from '../device/ipc.js';
import { createProcRuntime } from '../device/runtime.js';

export async function appProcess(components?: SessionComponents): Promise<void> {
  const cfg = readConfig();
  const rt = await createProcRuntime({ ...cfg, role: 'app' }, components);
  const app = new App(rt);

  async function shutdown(code: number): Promise<never> {
    app.close();
    await Promise.race([rt.close(), new Promise((r) => setTimeout(r, 2_000))]);
    process.exit(code);
  }

  onCommand((c) => {
    switch (c.type) {
      case 'lifecycle':
        void app.onLifecycle(c).catch((e) => rt.errorEvent(`lifecycle ${c.event}`, e));
        return;
      case 'send':
        void app.send(c.queueId, c.text, c.clientId).catch((e) => rt.errorEvent('send', e));
        return;
      case 'window':
        void app.onWindow(c).catch((e) => rt.errorEvent('window', e));
        return;
      case 'settings':
        app.onSettings(c);
        return;
      case 'query':
        void app.status().then((s) => emitEvent('status', s), (e) => rt.errorEvent('query', e));
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
