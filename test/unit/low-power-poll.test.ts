import { describe, expect, it } from 'vitest';
import { LowPowerPoller } from '../../src/core/session/app/low-power.js';
import type { SessionRuntime } from '../../src/core/session/runtime.js';

/** The parts of a runtime the poller touches, with a status endpoint that never answers (a partition). */
function fakeRuntime() {
  const logs: string[] = [];
  const events: string[] = [];
  let timers: (() => void)[] = [];
  let gets = 0;
  let inFlight = 0;
  const rt = {
    queueCfg: new Map([['q0', { statusKey: '11'.repeat(32) }]]),
    host: { clock: { now: () => 1_000_000, setTimer: (_ms: number, fn: () => void) => (timers.push(fn), timers.length), clearTimer: () => {} } },
    ports: { status: { get: () => ((gets++), new Promise(() => {})) } },
    phase: {
      phase: 'active',
      run: async <T>(_cls: string, fn: () => Promise<T>) => {
        inFlight++;
        try {
          return await fn();
        } finally {
          inFlight--;
        }
      },
    },
    emit: (name: string) => events.push(name),
    log: (_l: string, _t: string, msg: string) => logs.push(msg),
    ensureConnected: async () => {},
  } as unknown as SessionRuntime;
  const fire = () => {
    const t = timers;
    timers = [];
    for (const f of t) f();
  };
  return { rt, logs, events, fire, gets: () => gets, inFlight: () => inFlight };
}

const settle = () => new Promise((r) => setImmediate(r));

describe('low-power poll', () => {
  it('a status request hanging on the network holds its receive until stop() abandons it', async () => {
    const f = fakeRuntime();
    const poller = new LowPowerPoller(f.rt, 1_000);
    const fetched: string[] = [];
    poller.fetchQueue = async (q) => void fetched.push(q);
    poller.start();
    f.fire();
    await settle();
    expect(f.gets()).toBe(1);
    expect(f.inFlight()).toBe(1); // the suspension's drain would wait for this
    await settle();
    expect(f.inFlight()).toBe(1);
    poller.stop();
    await settle();
    expect(f.inFlight()).toBe(0);
    expect(f.logs).toContain('status poll abandoned: polling stopped');
    // Abandoned is not "has payload": nothing was fetched, and polling stays stopped.
    expect(fetched).toEqual([]);
    f.fire();
    await settle();
    expect(f.gets()).toBe(1);
  });
});
