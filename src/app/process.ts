/**
 * The app process: the app session (src/core/session/app) on the Node host,
 * driven by the device's IPC commands. `components` lets a simulation build
 * wrap parts (sim/real); the shipping entry (./main.ts) passes none.
 */
import { join } from 'node:path';
import { App, type SessionComponents } from '../core/session/index.js';
import { saveCodeCache } from '../device/code-cache.js';
import { emitEvent, onCommand, readConfig } from '../device/ipc.js';
import { createProcRuntime } from '../device/runtime.js';
import { nodePushTokenPort, PUSH_TOKEN_STATE_FILE } from '../node/push-token-port.js';

export async function appProcess(components?: SessionComponents): Promise<void> {
  const cfg = readConfig();
  // The token the device gave at launch, if the device models one (a config without it: the host registers).
  const pushToken =
    cfg.pushToken === undefined
      ? undefined
      : nodePushTokenPort({ statePath: join(cfg.sharedDir, PUSH_TOKEN_STATE_FILE), token: cfg.pushToken, ...(cfg.platform ? { platform: cfg.platform } : {}), ...(cfg.appVersion ? { appVersion: cfg.appVersion } : {}) });
  const rt = await createProcRuntime({ ...cfg, role: 'app' }, components, pushToken ? { pushToken } : {});
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
      case 'token':
        pushToken?.setToken(c.token);
        return;
      case 'account':
        void (c.action === 'logout' ? app.logout() : app.login()).catch((e) => rt.errorEvent(c.action, e));
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
