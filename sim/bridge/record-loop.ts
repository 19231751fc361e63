/**
 * The conformance runner's event loop (ios-bridge/conformance/runner.js `run`), hosted on the
 * fast mode's scheduler, so that a bridge core driven inside a simulated world produces a
 * transcript the runner replays call for call.
 *
 * The runner orders its events by (virtual time, scheduling order): facade steps first (they
 * are scheduled before anything else), then timers and host replies in the order they were
 * scheduled — a reply's place is fixed when the call is made. Here a host call's answer comes
 * from the world, possibly much later; its reply is placed at (the moment the world answered
 * + 1 ms) with the sequence number reserved at the call. Every event that arrives from the world
 * (a reply, a facade call the device makes) is therefore known before the loop reaches its
 * time, and the loop fires events exactly in the order the runner will. The event entries have
 * the runner's shapes and key order, because the replay compares their JSON.
 */
import type { TimerHandle } from '../../src/core/host.js';
import type { Scheduler } from '../fast/scheduler.js';

/** runner.js START_MS: `now()` answers START_MS + t. */
export const START_MS = 1800000000000;

export type TranscriptEvent = Record<string, unknown>;
/** A facade call, or what the host does on its own (runner.js host steps: a recorded SUB delivery, the connection's end). */
export type TranscriptStep =
  | { at: number; call: string; args?: unknown[] }
  | { at: number; host: 'deliver'; queueId: string; msgId: string; ts: number; notification: boolean; body: string }
  | { at: number; host: 'close' };
type HostStep = Extract<TranscriptStep, { host: string }>;
export interface HostReply {
  result?: unknown;
  err?: { code: string; message: string };
  after: number;
}
type Done = (err: unknown, result?: unknown) => void;

interface Item {
  at: number;
  /** Steps: their index (they precede everything else at the same time); others: scheduling order. */
  step: number | null;
  seq: number;
  kind: 'step' | 'timer' | 'reply';
  timerId?: number;
  fire: () => void;
}

/** JSON-safe copy, as runner.js `plain`: functions dropped, undefined → null. */
export function plain<T = unknown>(v: unknown): T {
  if (v === undefined) return null as T;
  return JSON.parse(JSON.stringify(v, (_k, x: unknown) => (typeof x === 'function' ? undefined : x)) ?? 'null') as T;
}

function errOut(e: unknown): { code: string; message: string } {
  const x = e as { code?: unknown; message?: unknown } | null;
  return { code: x && typeof x.code === 'string' ? x.code : 'UNCODED', message: String(x && x.message ? x.message : e) };
}

export class RecordLoop {
  readonly events: TranscriptEvent[] = [];
  readonly steps: TranscriptStep[] = [];
  /** Why the transcript would not replay (an event fired late because the process was frozen, …). */
  readonly problems: string[] = [];
  /** Host calls made and not answered yet. */
  pending = 0;
  /** The runner's virtual clock, ms since createCore. */
  private now = 0;
  private seq = 0;
  private timerSeq = 0;
  private readonly timers = new Map<number, () => void>();
  private q: Item[] = [];
  private armed: { handle: TimerHandle; at: number } | null = null;
  /** The core, once createCore ran (facade steps call it). */
  core: Record<string, (...a: unknown[]) => unknown> | null = null;
  /** Called when a facade step's promise settled (the world learns a yield finished, a window's result). */
  onOutput: (call: string, ok: boolean, stepIndex: number, value: unknown) => void = () => {};

  constructor(
    /** The realm the bundle runs in: its Promise and JSON (the runner works inside that realm; a foreign promise would settle a tick later). */
    private readonly realm: { Promise: PromiseConstructor; JSON: JSON },
    private readonly sched: Scheduler,
    /** Scheduler owner of the process the core runs in: its dispatches stop while it is frozen, and end when it dies. */
    private readonly owner: string,
    /** Sim time of createCore: t = 0. */
    private readonly t0: number,
  ) {}

  /** Virtual ms since createCore, as the transcript's `t`. */
  get t(): number {
    return this.now;
  }
  /** The world's time, on the transcript's clock. */
  private simT(): number {
    return this.sched.now - this.t0;
  }

  emit(ev: TranscriptEvent): TranscriptEvent {
    ev.t = this.now;
    this.events.push(ev);
    return ev;
  }

  private schedule(it: Item): void {
    // (at, steps before others, step index | scheduling order): the runner's queue order.
    const key = (x: Item): [number, number, number] => [x.at, x.step === null ? 1 : 0, x.step ?? x.seq];
    const k = key(it);
    let lo = 0;
    let hi = this.q.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const m = key(this.q[mid]!);
      if (m[0] < k[0] || (m[0] === k[0] && (m[1] < k[1] || (m[1] === k[1] && m[2] <= k[2])))) lo = mid + 1;
      else hi = mid;
    }
    this.q.splice(lo, 0, it);
    this.arm();
  }

  /** One scheduler timer, owned by the process, for the head of the queue. */
  private arm(): void {
    const head = this.q[0];
    if (!head) return;
    if (this.armed && this.armed.at <= head.at) return;
    if (this.armed) this.sched.clearTimer(this.armed.handle);
    const at = head.at;
    this.armed = { at, handle: this.sched.setTimer(this.owner, Math.max(0, at - this.simT()), () => this.dispatch()) };
  }

  private dispatch(): void {
    this.armed = null;
    const ev = this.q[0];
    if (!ev) return;
    const t = this.simT();
    if (ev.at > t) return this.arm();
    this.q.shift();
    // A cleared timer: the runner drops it without touching its clock.
    if (ev.kind === 'timer' && !this.timers.has(ev.timerId!)) return this.arm();
    if (ev.at < t) this.problems.push(`an event due at t=${ev.at} fired at t=${t} (the process was frozen meanwhile): the runner cannot replay that`);
    this.now = Math.max(this.now, ev.at);
    ev.fire();
    this.arm();
  }

  // ---- what the world does to the core -------------------------------------------------------

  /** A facade call the device makes now: in the transcript's steps, fired 1 ms later (known before the loop gets there). */
  step(call: string, args?: unknown[], onFire?: () => void): void {
    const at = this.simT() + 1;
    const index = this.steps.length;
    this.steps.push(args === undefined ? { at, call } : { at, call, args: plain(args) });
    this.schedule({
      at,
      step: index,
      seq: 0,
      kind: 'step',
      fire: () => {
        onFire?.();
        const core = this.core;
        if (!core) {
          this.emit({ out: call, step: index, ok: false, error: { code: 'NO_CORE', message: 'createCore failed' } });
          return;
        }
        const P = this.realm.Promise;
        let p: unknown;
        try {
          p = core[call]!.apply(core, this.realm.JSON.parse(JSON.stringify(plain(args ?? []))) as unknown[]);
        } catch (e) {
          p = P.reject(e);
        }
        P.resolve(p).then(
          (v) => {
            this.emit({ out: call, step: index, ok: true, value: plain(v) });
            this.onOutput(call, true, index, plain(v));
          },
          (e: unknown) => {
            this.emit({ out: call, step: index, ok: false, error: errOut(e) });
            this.onOutput(call, false, index, null);
          },
        );
      },
    });
  }

  /**
   * What the host does on its own now (a relay delivery, the connection dropping): a runner host
   * step 1 ms later, ordered like a facade call; `fire` does there what runner.js's hostStep does.
   */
  hostStep(st: HostStep extends infer S ? (S extends HostStep ? Omit<S, 'at'> : never) : never, fire: () => void): void {
    const at = this.simT() + 1;
    const index = this.steps.length;
    this.steps.push({ at, ...st } as HostStep);
    this.schedule({ at, step: index, seq: 0, kind: 'step', fire });
  }

  // ---- the host functions the loop itself answers ------------------------------------------

  nowMs(): number {
    const ret = START_MS + this.now;
    this.emit({ fn: 'now', args: [], ret });
    return ret;
  }
  setTimer(ms: number, fire: () => void): number {
    const id = ++this.timerSeq;
    this.emit({ fn: 'setTimer', args: [ms], ret: id });
    this.timers.set(id, fire);
    this.schedule({
      at: this.now + ms,
      step: null,
      seq: ++this.seq,
      kind: 'timer',
      timerId: id,
      fire: () => {
        const f = this.timers.get(id)!;
        this.timers.delete(id);
        this.emit({ timer: id });
        f();
      },
    });
    return id;
  }
  clearTimer(id: number): void {
    this.emit({ fn: 'clearTimer', args: [id] });
    this.timers.delete(id);
  }
  /** A sync host function answered by the world (randomHex, lockYieldPending). */
  sync<T>(fn: string, args: unknown[], ret: T): T {
    this.emit({ fn, args, ret });
    return ret;
  }
  /** A sync host callback without a value (log, contentReady, phaseChanged). */
  note(fn: string, args: unknown[]): void {
    this.emit({ fn, args: plain(args) });
  }

  /**
   * An async host call answered by the world: `work` runs in the world (it may take virtual time);
   * its outcome becomes the reply, delivered 1 ms after the world answered.
   */
  async(fn: string, args: unknown[], done: Done, work: () => Promise<unknown>): void {
    const ev = this.emit({ fn, args: plain(args), reply: null });
    const callAt = this.now;
    const seq = ++this.seq;
    this.pending++;
    const answer = (reply: Omit<HostReply, 'after'>): void => {
      this.pending--;
      const at = Math.max(this.simT(), callAt) + 1;
      const r: HostReply = { ...reply, after: at - callAt };
      ev.reply = r;
      this.schedule({ at, step: null, seq, kind: 'reply', fire: () => done(r.err ?? null, r.err ? undefined : r.result) });
    };
    let p: Promise<unknown>;
    try {
      p = work();
    } catch (e) {
      p = Promise.reject(e);
    }
    p.then(
      (v) => answer({ result: plain(v) }),
      (e: unknown) => answer({ err: errOut(e) }),
    );
  }

  /** Timers still armed and replies not yet delivered: the runner would fire them after the last event. */
  outstanding(): { timers: number; replies: number; calls: number } {
    return { timers: this.timers.size, replies: this.q.filter((x) => x.kind === 'reply').length, calls: this.pending };
  }
}
