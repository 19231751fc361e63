import { EventEmitter } from 'node:events';
import { NsekitError } from '../core/errors.js';
import type { EventMsg, ProcConfig } from './ipc.js';

export type LoggedEvent = EventMsg & { role: ProcConfig['role']; pid: number };
type Role = ProcConfig['role'] | 'any';

/**
 * Every event from every process of a device, in arrival order, with bounded
 * waits on them. Waits look at the log first, then at new events, so an event
 * that arrived before the wait started is never missed (no sleeps, no races).
 */
export class EventLog extends EventEmitter {
  readonly events: LoggedEvent[] = [];

  protected record(role: ProcConfig['role'], pid: number, e: EventMsg): void {
    const tagged: LoggedEvent = { ...e, role, pid };
    this.events.push(tagged);
    this.emit('event', role, tagged);
  }

  /**
   * Resolve with the first event (index ≥ `from`) from `role` named `name` that
   * satisfies `pred`; PROTO_TIMEOUT after `timeoutMs` (default 20 s). Survives NSE relaunches.
   */
  waitEvent(role: Role, name: EventMsg['name'], pred: (e: LoggedEvent) => boolean = () => true, opts: { timeoutMs?: number; from?: number } = {}): Promise<LoggedEvent> {
    const ok = (e: LoggedEvent) => (role === 'any' || e.role === role) && e.name === name && pred(e);
    for (let i = opts.from ?? 0; i < this.events.length; i++) if (ok(this.events[i]!)) return Promise.resolve(this.events[i]!);
    const timeoutMs = opts.timeoutMs ?? 20_000;
    return new Promise((resolve, reject) => {
      const on = (_r: string, e: LoggedEvent) => {
        if (!ok(e)) return;
        clearTimeout(t);
        this.off('event', on);
        resolve(e);
      };
      const t = setTimeout(() => {
        this.off('event', on);
        reject(new NsekitError('PROTO_TIMEOUT', `no ${role} event ${name} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.on('event', on);
    });
  }

  /** Resolve once `n` events (index ≥ `from`) match; PROTO_TIMEOUT with the count reached otherwise. */
  waitCount(role: Role, name: EventMsg['name'], n: number, pred: (e: LoggedEvent) => boolean = () => true, opts: { timeoutMs?: number; from?: number } = {}): Promise<LoggedEvent[]> {
    const from = opts.from ?? 0;
    const timeoutMs = opts.timeoutMs ?? 20_000;
    const ok = (e: LoggedEvent) => (role === 'any' || e.role === role) && e.name === name && pred(e);
    const matches = () => this.events.slice(from).filter(ok);
    if (matches().length >= n) return Promise.resolve(matches().slice(0, n));
    return new Promise((resolve, reject) => {
      const on = () => {
        const m = matches();
        if (m.length < n) return;
        clearTimeout(t);
        this.off('event', on);
        resolve(m.slice(0, n));
      };
      const t = setTimeout(() => {
        this.off('event', on);
        reject(new NsekitError('PROTO_TIMEOUT', `${matches().length}/${n} ${role} ${name} events within ${timeoutMs} ms`));
      }, timeoutMs);
      this.on('event', on);
    });
  }

  /** Resolve once `cond()` holds, re-checked on every new event; PROTO_TIMEOUT otherwise. */
  waitFor(cond: () => boolean, opts: { timeoutMs?: number; what?: string } = {}): Promise<void> {
    if (cond()) return Promise.resolve();
    const timeoutMs = opts.timeoutMs ?? 20_000;
    return new Promise((resolve, reject) => {
      const on = () => {
        if (!cond()) return;
        clearTimeout(t);
        this.off('event', on);
        resolve();
      };
      const t = setTimeout(() => {
        this.off('event', on);
        reject(new NsekitError('PROTO_TIMEOUT', `${opts.what ?? 'condition'} not reached within ${timeoutMs} ms`));
      }, timeoutMs);
      this.on('event', on);
    });
  }

  /** User-visible notifications shown so far (any process). */
  notificationsShown(): number {
    return this.events.filter((e) => e.name === 'notification').length;
  }
}
