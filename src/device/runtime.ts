/**
 * The Node process host of a session: builds a SessionRuntime (src/core/session)
 * from the process configuration, with the real ports (src/node/session-ports.ts),
 * the wall clock, a CSPRNG, stderr logging, failpoints and events over the
 * device's IPC channel.
 */
import type { Host } from '../core/host.js';
import { SessionRuntime, type PushTokenPort, type SessionComponents } from '../core/session/index.js';
import { ipcFailpoints } from '../node/failpoints.js';
import { nodeClock, nodeRng, stderrLog } from '../node/host.js';
import type { CrossProcessLock } from '../node/lock/types.js';
import { nodePorts } from '../node/session-ports.js';
import { emitEvent, type ProcConfig } from './ipc.js';

export { hexBytes } from '../core/session/index.js';

export async function createProcRuntime(cfg: ProcConfig, components?: SessionComponents, extra: { pushToken?: PushTokenPort } = {}): Promise<SessionRuntime> {
  const log = stderrLog(cfg.role, cfg.logLevel ?? (process.env.NSEKIT_LOG as ProcConfig['logLevel']) ?? 'info');
  const host: Host = { clock: nodeClock, rng: nodeRng, log, failpoints: ipcFailpoints({ reportAll: process.env.NSEKIT_FP_REPORT === 'all' }) };
  // The lease backend (proper-lockfile, graceful-fs, signal-exit) is loaded only when
  // configured: its module evaluation would otherwise sit on the NSE's cold-start path.
  let makeLock: ((path: string, h: Host) => CrossProcessLock) | undefined;
  if (cfg.lockBackend === 'lease') {
    const { createLeaseLock } = await import('../node/lock/lease.js');
    makeLock = (path, h) => createLeaseLock(path, { host: h });
  }
  return new SessionRuntime({
    cfg,
    host,
    events: { emit: emitEvent },
    ports: (gate) => nodePorts({ role: cfg.role, sharedDir: cfg.sharedDir, relayUrl: cfg.relayUrl, ...(cfg.storeSync ? { storeSync: cfg.storeSync } : {}), ...(cfg.relayHttpUrl ? { relayHttpUrl: cfg.relayHttpUrl } : {}), ...(makeLock ? { makeLock } : {}), ...(extra.pushToken ? { pushToken: extra.pushToken } : {}) }, host, gate),
    ...(components ? { components } : {}),
  });
}
