/**
 * The NSE process entry, launched by the device on a mutable-content push and
 * reused for later pushes while alive: bundled, `node src/device/launcher.cjs
 * nse.cjs` (src/device/bundle.ts), or unbundled `node --import tsx src/nse/main.ts`.
 */
import { codeCacheState } from '../device/code-cache.js';
import { emitEvent, onCommand, readConfig, runEntry } from '../device/ipc.js';
import { ProcRuntime } from '../device/runtime.js';
import { NseService } from './nse.js';

async function main(): Promise<void> {
  const importedAt = performance.now(); // module graph loaded and evaluated
  const cfg = readConfig();
  const rt = await ProcRuntime.create({ ...cfg, role: 'nse' });
  const nse = new NseService(rt, {
    ...(cfg.nseBudgetMs !== undefined ? { budgetMs: cfg.nseBudgetMs } : {}),
    ...(cfg.nseGraceMs !== undefined ? { graceMs: cfg.nseGraceMs } : {}),
    ...(cfg.nseMaxExtraGets !== undefined ? { maxExtraGets: cfg.nseMaxExtraGets } : {}),
  });

  async function shutdown(code: number): Promise<never> {
    await Promise.race([rt.close(), new Promise((r) => setTimeout(r, 2_000))]);
    process.exit(code);
  }

  // Commands are applied in order: a push after `unlock` sees the key.
  let chain: Promise<unknown> = Promise.resolve();
  function serial(fn: () => Promise<unknown>): void {
    chain = chain.then(fn).catch((e) => rt.errorEvent('nse', e));
  }

  onCommand((c) => {
    switch (c.type) {
      case 'push':
        // Pushes run concurrently (the coordinator serializes per queue); only their start is ordered.
        serial(async () => void nse.onPush(c).catch((e) => rt.errorEvent('nse push', e)));
        return;
      case 'yield':
        void nse.yieldToApp('ipc');
        return;
      case 'app-state':
        // Applied on receipt, like a yield: a push that starts later sees the latest state.
        nse.setAppActive(c.active);
        return;
      case 'lifecycle':
        if (c.event === 'unlock' && c.masterKey) serial(() => rt.unlock(c.masterKey!));
        else if (c.event === 'lock') serial(async () => rt.lockDevice());
        else if (c.event === 'expiring' || c.event === 'suspend') serial(() => nse.suspend(c.deadlineMs ?? 0));
        return;
      case 'query':
        emitEvent('status', { role: 'nse', phase: rt.phase.phase, unlocked: rt.unlocked, lockHeld: rt.lock.held });
        return;
      case 'shutdown':
        void shutdown(0);
        return;
      case 'send':
        return;
    }
  });
  process.on('disconnect', () => void shutdown(0));

  try {
    // Cold start matters here (iOS launches the NSE per push): the socket handshake
    // runs while the store opens, and `ready` goes out as soon as the store is open —
    // a push waits for the connection inside onPush anyway.
    const connected = rt.ensureConnected();
    connected.catch(() => {});
    rt.store.open();
    const storeAt = performance.now();
    emitEvent('ready', { role: 'nse', pid: process.pid, bootMs: Math.round(performance.now()), importMs: Math.round(importedAt), storeMs: Math.round(storeAt - importedAt), codeCache: codeCacheState() });
    await connected;
  } catch (e) {
    rt.errorEvent('nse start', e);
    await shutdown(1);
  }
}

runEntry('nse', main);
