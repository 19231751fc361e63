/**
 * Entry bundled (IIFE, global `NsekitSmoke`) for the jsc smoke test: the real
 * src/core modules, driven by a host whose clock is virtual (a bare
 * JavaScriptCore shell has no timers), reporting through a `print` callback.
 */
// First: xstate evaluates console.log.bind(console) at load; a bare jsc has no console.
import '../../src/core/bridge/console-shim.js';
import { fromHex, toHex, utf8Decode, utf8Encode } from '../../src/core/bytes.js';
import { EnvelopeKind, deriveKey, open, seal } from '../../src/core/crypto/index.js';
import { isNsekitError } from '../../src/core/errors.js';
import type { Clock, Host, TimerHandle } from '../../src/core/host.js';
import { noFailpoints } from '../../src/core/host.js';
import { PhaseController } from '../../src/core/phase/index.js';

/** Timers fire only when the script advances the clock. */
class VirtualClock implements Clock {
  t = 0;
  private seq = 0;
  private timers = new Map<number, { at: number; fn: () => void }>();
  now() {
    return this.t;
  }
  setTimer(ms: number, fn: () => void): TimerHandle {
    const id = ++this.seq;
    this.timers.set(id, { at: this.t + ms, fn });
    return id;
  }
  clearTimer(h: TimerHandle) {
    this.timers.delete(h as number);
  }
  async advance(ms: number) {
    const end = this.t + ms;
    for (let i = 0; i < 1000; i++) {
      for (let k = 0; k < 20; k++) await Promise.resolve();
      let next: [number, { at: number; fn: () => void }] | null = null;
      for (const e of this.timers) if (e[1].at <= end && (!next || e[1].at < next[1].at)) next = e;
      if (!next) break;
      this.timers.delete(next[0]);
      this.t = next[1].at;
      next[1].fn();
    }
    this.t = end;
  }
}

export async function run(print: (s: string) => void): Promise<void> {
  const out: Record<string, unknown> = {};
  // Envelope: deterministic rng (counter bytes), seal → open round trip; a flipped byte fails typed.
  let ctr = 0;
  const rng = { randomBytes: (n: number) => Uint8Array.from({ length: n }, () => ctr++ & 255) };
  const key = deriveKey(fromHex('00'.repeat(32))!, 'body');
  const binding = { kind: EnvelopeKind.messageBody, recordId: 'm1', queueId: 'q1' };
  const sealed = seal(key, rng, binding, utf8Encode('héllo, jsc 👋'));
  out.opened = utf8Decode(open(key, binding, sealed));
  out.sealedHex = toHex(sealed);
  sealed[sealed.length - 1]! ^= 1;
  try {
    open(key, binding, sealed);
    out.tamper = 'opened';
  } catch (e) {
    out.tamper = isNsekitError(e) ? e.code : String(e);
  }
  // Phase machine: background → suspend → activate with the virtual clock.
  const clock = new VirtualClock();
  const steps: string[] = [];
  const host: Host = { clock, rng, log: { log() {} }, failpoints: noFailpoints };
  const pc = new PhaseController(host, {
    proc: 'smoke',
    hooks: { onSuspend: () => void steps.push('onSuspend'), onActivate: () => void steps.push('onActivate') },
  });
  pc.on('phase', (e) => steps.push(`phase:${e.phase}`));
  pc.on('suspended', () => steps.push('suspended'));
  let release!: () => void;
  const inFlight = pc.run('database', () => new Promise<void>((r) => (release = r)));
  pc.background();
  let waited = 'no';
  const blocked = pc.run('receiveNetwork', () => (waited = `ran at t=${clock.now()}`), { timeoutMs: 60_000 });
  const suspended = pc.suspend(500);
  await clock.advance(100);
  steps.push(`db in flight at t=${clock.now()}`);
  release();
  await inFlight;
  await suspended;
  await clock.advance(100);
  await pc.activate();
  await blocked;
  out.waited = waited;
  out.steps = steps;
  out.phase = pc.phase;
  print(JSON.stringify(out));
}
