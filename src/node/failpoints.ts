import type { Failpoints } from '../core/host.js';

/**
 * Failpoints over Node IPC, for processes spawned by the simulator.
 *
 * Every hit is reported to the parent as `{type:'fp', seq, name, fields, t}` (the
 * orchestrator turns hits into history and trace events). A name the parent has
 * *armed* (`{type:'fp-arm', name, nth?, match?}`) pauses the process there: the hit's promise
 * resolves only when the parent answers `{type:'fp-release', seq}`. This is what makes
 * "freeze the NSE right after it takes the lock" happen at that instruction every run.
 *
 * Without an IPC channel (no simulator attached) this returns `noFailpoints`-like
 * behaviour: `hit` does nothing and costs one property read.
 */
export interface IpcFailpointsOptions {
  /** Report every hit to the parent (default true); false = only armed ones. */
  reportAll?: boolean;
}

type ParentMsg =
  /** `match`: only hits whose fields equal these count (a `phase.enter` into one phase), counted here, in the process, because the next hit can come before a re-arm would. */
  | { type: 'fp-arm'; name: string; nth?: number; match?: Record<string, unknown> }
  | { type: 'fp-disarm'; name: string }
  | { type: 'fp-release'; seq: number };

export function ipcFailpoints(opts: IpcFailpointsOptions = {}): Failpoints {
  if (typeof process.send !== 'function' || !process.connected) return { hit() {} };
  const reportAll = opts.reportAll ?? true;
  const armed = new Map<string, { nth: number; seen: number; match?: Record<string, unknown> }>();
  const waiting = new Map<number, () => void>();
  let seq = 0;

  process.on('message', (raw: unknown) => {
    const m = raw as ParentMsg;
    if (!m || typeof m !== 'object') return;
    if (m.type === 'fp-arm') armed.set(m.name, { nth: m.nth ?? 1, seen: 0, ...(m.match ? { match: m.match } : {}) });
    else if (m.type === 'fp-disarm') armed.delete(m.name);
    else if (m.type === 'fp-release') {
      waiting.get(m.seq)?.();
      waiting.delete(m.seq);
    }
  });

  return {
    hit(name, fields) {
      const a = armed.get(name);
      const pause = a !== undefined && matches(a.match, fields) && ++a.seen === a.nth;
      if (!pause && !reportAll) return;
      const s = ++seq;
      const msg = { type: 'fp', seq: s, name, fields: fields ?? {}, t: Date.now(), pid: process.pid, pause };
      if (!process.connected) return;
      process.send!(msg);
      if (!pause) return;
      armed.delete(name);
      return new Promise<void>((resolve) => waiting.set(s, resolve));
    },
  };
}

function matches(want: Record<string, unknown> | undefined, fields: Record<string, unknown> | undefined): boolean {
  if (!want) return true;
  for (const k in want) if (fields?.[k] !== want[k]) return false;
  return true;
}
