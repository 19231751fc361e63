/**
 * PhaseController: one per process. Runs the phase machine as an xstate actor
 * and implements the Gate bracket around every network and database
 * operation: counts in-flight ops per class, parks new ops of blocked classes
 * (FIFO, per-op timeout), drives the ordered drain with a host-clock deadline,
 * and runs the store hooks. Counts and waiters live here, not in the machine,
 * because they change on every operation.
 */
import { createActor } from 'xstate';
import type { Gate, Host, LogLevel, OpClass } from '../host.js';
import { DRAIN_ORDER } from '../host.js';
import { NsekitError } from '../errors.js';
import { diffContexts, nextToOpen, phaseMachine, type Phase, type PhaseContext, type PhaseMachineEvent } from './machine.js';
import { deferred, type Deferred, type PhaseControllerOptions, type PhaseHooks } from './types.js';
import { OpTracker } from './ops.js';
import { Deadline } from './deadline.js';
import { PhaseEmitter, type PhaseEvent, type PhaseEventName, type PhaseListener } from './events.js';

export type { PhaseEvent, PhaseEventName } from './events.js';
export type { PhaseControllerOptions, PhaseHooks } from './types.js';

type Hits = Promise<void> | void;
const REVERSE = [...DRAIN_ORDER].reverse();

export class PhaseController implements Gate {
  private readonly actor;
  private readonly proc: string;
  private readonly hooks: PhaseHooks;
  private readonly defaultOpTimeoutMs: number;
  private readonly ops: OpTracker;
  private readonly events = new PhaseEmitter((event, error) => this.log('error', `${event} listener threw`, { error: String(error) }));
  /** Context as last published to listeners. */
  private view: PhaseContext;
  private publishing = false;
  private stopped = false;
  /** Bumped by every suspend start, activate and stop: a drain loop from an older epoch exits. */
  private epoch = 0;
  private wakeDrain: (() => void) | null = null;
  private readonly deadline: Deadline;
  private suspendReq: Deferred | null = null;
  private closing: Promise<void> | null = null;
  private activating: Promise<void> | null = null;
  private readonly idleWaiters = new Map<OpClass, (() => void)[]>();

  constructor(
    private readonly host: Pick<Host, 'clock' | 'log' | 'failpoints'>,
    opts: PhaseControllerOptions,
  ) {
    this.proc = opts.proc;
    this.hooks = opts.hooks ?? {};
    this.defaultOpTimeoutMs = opts.defaultOpTimeoutMs ?? 30_000;
    // When the class being drained goes idle, wake the drain loop.
    this.deadline = new Deadline(host.clock, () => this.forceDeadline());
    this.ops = new OpTracker(host.clock, (cls) => {
      if (this.view.draining === cls) this.wake();
      const ws = this.idleWaiters.get(cls);
      if (ws) {
        this.idleWaiters.delete(cls);
        for (const w of ws) w();
      }
    });
    // Route xstate's clock and logger through the host, so xstate never falls back
    // to ambient timers. (Keys quoted: they are xstate's names, not calls.)
    this.actor = createActor(phaseMachine, {
      clock: { 'setTimeout': (fn, ms) => host.clock.setTimer(ms, fn), 'clearTimeout': (h) => host.clock.clearTimer(h) },
      logger: (...args: unknown[]) => this.log('debug', 'xstate', { args: args.map(String) }),
    });
    this.actor.subscribe({ error: (e) => this.log('error', 'phase actor error', { error: String(e) }) });
    this.actor.start();
    this.view = this.actor.getSnapshot().context;
  }

  get phase(): Phase {
    return this.view.phase;
  }
  inFlight(cls: OpClass): number {
    return this.ops.inFlight(cls);
  }
  waiting(cls: OpClass): number {
    return this.ops.waiting(cls);
  }
  /** Resolves once no operation of `cls` is in flight (at once if none is). */
  whenIdle(cls: OpClass): Promise<void> {
    if (this.ops.inFlight(cls) === 0) return Promise.resolve();
    return new Promise<void>((r) => {
      const ws = this.idleWaiters.get(cls);
      if (ws) ws.push(r);
      else this.idleWaiters.set(cls, [r]);
    });
  }

  isBlocked(cls: OpClass): boolean {
    return this.view.blocked.includes(cls);
  }

  on(event: PhaseEventName, fn: PhaseListener): () => void {
    return this.events.on(event, fn);
  }

  run<T>(cls: OpClass, fn: () => T | Promise<T>, opts?: { timeoutMs?: number }): Promise<T> {
    if (this.stopped) return Promise.reject(this.stoppedError(cls));
    // Open and nobody queued ahead: start now, synchronously (the hot path).
    if (!this.isBlocked(cls) && this.ops.waiting(cls) === 0) return this.ops.exec(cls, fn);
    const timeoutMs = opts?.timeoutMs ?? this.defaultOpTimeoutMs;
    const p = this.ops.wait(cls, fn, timeoutMs, () => {
      this.log('warn', 'operation timed out waiting for its class', { cls, timeoutMs });
      const details = { proc: this.proc, cls, phase: this.phase, timeoutMs };
      return new NsekitError('GATE_TIMEOUT', `${cls} stayed blocked for ${timeoutMs} ms (phase ${this.phase})`, details);
    });
    this.log('debug', 'operation waits for its class', { cls, waiting: this.ops.waiting(cls) });
    return p;
  }

  /** Block new network ops of every class; in-flight ones finish; the database stays open. */
  background(): void {
    if (this.stopped) return;
    this.catchHits(this.step({ type: 'BACKGROUND' }));
  }

  /** Drain in DRAIN_ORDER, run onSuspend, enter 'suspended'. Resolves on 'suspended' or when activate() supersedes it. */
  async suspend(deadlineMs: number): Promise<void> {
    if (this.publishing) await Promise.resolve(); // called from a listener: let the current publish finish first
    // Let a running activation finish first (it cannot be half-undone), then decide.
    while (this.activating) await this.activating.catch(() => {});
    if (this.stopped) throw this.stoppedError();
    if (this.phase === 'suspended') return this.suspendReq?.promise ?? this.closing ?? undefined;
    if (this.phase === 'suspending') {
      this.deadline.set(deadlineMs);
      return this.suspendReq?.promise ?? this.closing ?? undefined;
    }
    const req = (this.suspendReq = deferred());
    const epoch = ++this.epoch;
    const hits = this.step({ type: 'SUSPEND' });
    this.deadline.set(deadlineMs);
    void this.drain(epoch, hits);
    return req.promise;
  }

  /** From any phase: cancel a drain, run onActivate if the store was closed, reopen classes (database first). */
  activate(): Promise<void> {
    if (this.stopped) return Promise.reject(this.stoppedError());
    if (this.activating) {
      this.step({ type: 'ACTIVATE' }); // clears a background() that arrived mid-activation
      return this.activating;
    }
    if (this.phase === 'active') return Promise.resolve();
    this.activating = this.doActivate().finally(() => (this.activating = null));
    return this.activating;
  }

  /** Reject every waiter with GATE_STOPPED and stop the actor. In-flight ops are not interrupted. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.epoch++;
    this.deadline.clear();
    this.wake();
    this.ops.failAll((cls) => this.stoppedError(cls));
    const req = this.suspendReq;
    this.suspendReq = null;
    req?.reject(this.stoppedError());
    this.actor.stop();
  }

  // ---- internals ----

  private async drain(epoch: number, firstHits: Hits): Promise<void> {
    if (firstHits) await firstHits;
    // Each round either advances the drain by one class or sleeps until woken.
    for (let round = 0; round < 10_000; round++) {
      if (epoch !== this.epoch || this.stopped) return;
      const snap = this.actor.getSnapshot();
      const cls = snap.context.draining;
      if (!snap.matches({ suspending: 'draining' }) || !cls) return;
      if (this.inFlight(cls) > 0) {
        await new Promise<void>((r) => (this.wakeDrain = r));
        continue;
      }
      const hits = this.step({ type: 'CLASS_DRAINED', cls });
      if (hits) await hits;
    }
  }

  private wake(): void {
    const w = this.wakeDrain;
    this.wakeDrain = null;
    w?.();
  }

  private forceDeadline(): void {
    if (this.stopped || !this.actor.getSnapshot().matches({ suspending: 'draining' })) return;
    const inFlight = Object.fromEntries(DRAIN_ORDER.filter((c) => this.inFlight(c) > 0).map((c) => [c, this.inFlight(c)]));
    if (Object.keys(inFlight).length) this.log('warn', 'suspend deadline: forcing classes still in flight', { inFlight });
    else this.log('info', 'suspend deadline: forcing remaining classes', {});
    this.catchHits(this.step({ type: 'DEADLINE' }));
    this.wake();
  }

  /** Runs once per suspension, from the moment the machine enters suspending.closing. */
  private async close(hits: Hits): Promise<void> {
    if (hits) await hits;
    this.deadline.clear();
    let failure: { error: unknown } | null = null;
    try {
      if (this.hooks.onSuspend) await this.hooks.onSuspend();
    } catch (error) {
      failure = { error };
      this.log('error', 'onSuspend hook failed; entering suspended with all classes blocked', { error: String(error) });
    }
    if (this.stopped) return;
    const h1 = this.step({ type: 'SUSPEND_DONE' });
    if (h1) await h1;
    const h2 = this.hit('phase.suspended', { phase: 'suspended' });
    if (h2) await h2;
    this.emit('suspended', { phase: this.phase });
    const req = this.suspendReq;
    this.suspendReq = null;
    if (failure) req?.reject(failure.error);
    else req?.resolve();
  }

  private async doActivate(): Promise<void> {
    if (this.publishing) await Promise.resolve(); // called from a listener: keep event order (opened after blocked)
    this.epoch++; // the drain loop exits on its next check
    this.deadline.clear();
    this.wake();
    if (this.closing) await this.closing; // onSuspend cannot be interrupted
    const req = this.suspendReq; // a drain cancelled before closing: suspend() resolves, superseded
    this.suspendReq = null;
    req?.resolve();
    if (this.stopped) throw this.stoppedError();
    let hits = this.step({ type: 'ACTIVATE' });
    if (hits) await hits;
    if (this.actor.getSnapshot().matches({ activating: 'reopening' })) {
      try {
        if (this.hooks.onActivate) await this.hooks.onActivate();
      } catch (error) {
        this.log('error', 'onActivate hook failed; staying suspended', { error: String(error) });
        this.catchHits(this.step({ type: 'ACTIVATE_FAILED' }));
        throw error;
      }
      if (this.stopped) throw this.stoppedError();
      hits = this.step({ type: 'STORE_REOPENED' });
      if (hits) await hits;
    }
    for (let i = 0; i < DRAIN_ORDER.length && !this.stopped; i++) {
      const cls = nextToOpen(this.actor.getSnapshot().context);
      if (!cls) break;
      hits = this.step({ type: 'CLASS_OPENED', cls });
      if (hits) await hits;
    }
    if (this.stopped) throw this.stoppedError();
    hits = this.step({ type: 'ACTIVATE_DONE' });
    if (hits) await hits;
    this.emit('activated', { phase: this.phase });
  }

  /** Send one event, publish the change, and start closing when the machine asks for it. */
  private step(ev: PhaseMachineEvent): Hits {
    if (this.stopped) return;
    this.actor.send(ev);
    const hits = this.publish();
    if (!this.closing && this.actor.getSnapshot().matches({ suspending: 'closing' })) {
      this.closing = this.close(hits).finally(() => (this.closing = null));
      return this.closing;
    }
    return hits;
  }

  /**
   * Diff the machine's context against what listeners last saw; emit phase,
   * blocked (DRAIN_ORDER) and opened (reverse) events, hit failpoints, and
   * start waiters of open classes. Re-entrant calls (a listener calling back
   * in) are folded into the outer loop.
   */
  private publish(): Hits {
    if (this.publishing) return;
    this.publishing = true;
    const pending: Promise<void>[] = [];
    const collect = (h: Hits) => h && pending.push(h);
    try {
      for (let round = 0; round < 100; round++) {
        const prev = this.view;
        const next = this.actor.getSnapshot().context;
        if (prev === next) break;
        this.view = next;
        const d = diffContexts(prev, next);
        if (d.phase) {
          this.log('info', `phase ${prev.phase} -> ${d.phase}`, {});
          this.emit('phase', { phase: d.phase });
          collect(this.hit('phase.enter', { phase: d.phase }));
        }
        for (const cls of d.blocked) {
          this.log('debug', 'class blocked', { cls, inFlight: this.inFlight(cls) });
          this.emit('blocked', { phase: next.phase, cls });
          collect(this.hit('gate.blocked', { cls, phase: next.phase }));
        }
        for (const cls of d.opened) {
          this.log('debug', 'class opened', { cls, waiting: this.waiting(cls) });
          this.emit('opened', { phase: next.phase, cls });
          collect(this.hit('gate.opened', { cls, phase: next.phase }));
        }
        for (const cls of REVERSE) this.ops.resume(cls, () => !this.stopped && !this.isBlocked(cls));
      }
    } finally {
      this.publishing = false;
    }
    if (pending.length === 0) return;
    return Promise.all(pending).then(() => {});
  }

  private hit(name: string, fields: Record<string, unknown>): Hits {
    const r = this.host.failpoints.hit(name, { proc: this.proc, ...fields });
    if (!r) return;
    return Promise.resolve(r).catch((e: unknown) => this.log('warn', `failpoint ${name} rejected`, { error: String(e) }));
  }

  private catchHits(h: Hits): void {
    if (h) h.catch((e: unknown) => this.log('error', 'phase transition failed', { error: String(e) }));
  }

  private emit(event: PhaseEventName, e: PhaseEvent): void {
    this.events.emit(event, e);
  }

  private log(level: LogLevel, msg: string, fields: Record<string, unknown>): void {
    this.host.log.log(level, 'phase', msg, { proc: this.proc, ...fields });
  }

  private stoppedError(cls?: OpClass): NsekitError {
    return new NsekitError('GATE_STOPPED', 'phase controller stopped', { proc: this.proc, ...(cls ? { cls } : {}) });
  }
}
