/**
 * The NSE process: the NSE session (src/core/session/nse) on the Node host,
 * launched by the device on a mutable-content push and reused for later pushes
 * while alive. `components` lets a simulation build wrap parts (sim/real); the
 * shipping entry (./main.ts) passes none.
 */
import { NseService, type SessionComponents } from '../core/session/index.js';
import { codeCacheState, saveCodeCache } from '../device/code-cache.js';
import { emitEvent, onCommand, readConfig } from '../device/ipc.js';
import { createProcRuntime } from '../device/runtime.js';

export async function nseProcess(components?: SessionComponents): Promise<void> {
  const importedAt = performance.now(); // module graph loaded and evaluated
  const cfg = readConfig();
  const rt = await createProcRuntime({ ...cfg, role: 'nse' }, {
    ...components,
    // Keep the compiled cold path for the next launch, before the first content goes out.
    ports: (p) => {
      const q = components?.ports ? components.ports(p) : p;
      return { ...q, coldPathReady: saveCodeCache };
    },
  });
  const nse = new NseService(rt, {
    ...(cfg.nseBudgetMs !== undefined ? { budgetMs: cfg.nseBudgetMs } : {}),
    ...(cfg.nseGraceMs !== undefined ? { graceMs: cfg.nseGraceMs } : {}),
    ...(cfg.nseMaxExtraGets !== undefined ? { maxExtraGets: cfg.nseMaxExtraGets } : {}),
    ...(cfg.nseSuspendDeadlineMs !== undefined ? { suspendDeadlineMs: cfg.nseSuspendDeadlineMs } : {}),
  });

  async function shutdown(code: number): Promise<never> {
    await Promise.race([rt.close(), new Promise((r) => setTimeout(r, 2_000))]);
    process.exit(code);
  }

  onCommand((c) => {
    switch (c.type) {
      case 'push':
        void nse.push(c);
        return;
      case 'yield':
        void nse.yieldToApp('ipc', c.id);
        return;
      case 'app-state':
        // Applied on receipt, like a yield: a push that starts later sees the latest state.
        nse.setAppActive(c.active, c.id);
        return;
      case 'lifecycle':
        void nse.lifecycle(c);
        return;
      case 'query':
        emitEvent('status', { role: 'nse', phase: rt.phase.phase, unlocked: rt.unlocked, lockHeld: rt.lock.held });
        return;
      case 'shutdown':
        void shutdown(0);
        return;
      case 'send':
      case 'token':
      case 'account':
        return; // app commands
    }
  });
  process.on('disconnect', () => void shutdown(0));

  try {
    // Cold start matters here (iOS launches the NSE per push): the socket handshake
    // runs while the store opens (with the key, which the unlock command brings: a locked
    // device's NSE never opens it), and `ready` goes out at once — a push waits for the
    // connection inside onPush anyway.
    const connected = rt.ensureConnected();
    connected.catch(() => {});
    emitEvent('ready', { role: 'nse', pid: process.pid, bootMs: Math.round(performance.now()), importMs: Math.round(importedAt), codeCache: codeCacheState() });
    await connected;
  } catch (e) {
    rt.errorEvent('nse start', e);
    await shutdown(1);
  }
}
