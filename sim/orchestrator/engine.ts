import { NsekitError } from '../../src/core/errors.js';
import { OPTIONAL_TRIGGER_MS, stepDevice, type Step } from '../scenario/index.js';
import { StepWaits } from '../scenario/step-waits.js';
export { seededRng, type SentMessage } from './sender.js';
import type { Held } from './triggers.js';
import { EngineCore } from './engine-core.js';
export type { EngineOptions } from './engine-core.js';

type Role = 'app' | 'nse';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, Math.max(0, ms)));

/**
 * Runs a scenario's steps against a started SimWorld and enforces the iOS
 * rules while it does: background-task budget → `expiring` → freeze; NSE
 * budget → time-will-expire → freeze; every freeze checked against the kernel
 * (0xdead10cc → SIGKILL); NSE RSS over budget → jetsam. Steps wait on events
 * (failpoint hits, other steps, run-time offsets), never on sleeps.
 */
export class Engine extends EngineCore {
  // ---- steps -----------------------------------------------------------------------------

  async runSteps(): Promise<void> {
    const steps = this.scenario.steps;
    for (const e of this.all) {
      e.stepsStarted = true;
      for (const role of ['app', 'nse'] as const) {
        const p = e.proc(role);
        if (p?.alive) e.triggers.armProcess(role, p);
      }
    }
    // Which step is in progress when a trigger fires (a later step that waited behind it is recorded).
    const waits = new StepWaits(() => this.now());
    steps.forEach((_, i) => void this.triggers.firedFor(i)?.then(() => waits.fired(i)));
    // Verbs still running: a step waits for them unless it is `concurrent` (docs/scenarios.md).
    const inflight: Promise<void>[] = [];
    for (const st of steps) {
      let settle!: () => void;
      if (st.id) this.done.set(st.id, { p: new Promise<void>((r) => (settle = r)), settle: () => settle() });
    }
    const settle = (st: Step) => st.id && this.done.get(st.id)?.settle();
    for (let i = 0; i < steps.length; i++) {
      const st = steps[i]!;
      if (!st.concurrent) await Promise.all(inflight.splice(0));
      let held: Held | undefined;
      try {
        held = await this.trigger(i, st);
      } catch (e) {
        if ((st.when as { optional?: boolean } | undefined)?.optional) {
          this.h.info('orchestrator', 'step.skipped', { i, do: st.do, id: st.id, why: (e as Error).message });
          settle(st);
          continue;
        }
        this.harnessErrors.push(`step ${i} (${st.do}): ${(e as Error).message}`); // an NsekitError's message starts with its code
        this.h.fail('orchestrator', 'step', (e as Error).message, { i, do: st.do, id: st.id, code: (e as NsekitError).code });
        settle(st);
        continue;
      }
      this.opts.onStep?.(i, steps.length, st);
      const waited = held ? waits.turn(i, st) : null;
      if (waited) this.h.info('orchestrator', 'step.waited', waited);
      this.h.invoke('orchestrator', 'step', { i, do: st.do, id: st.id, proc: st.proc, args: st.args, ...(st.concurrent ? { concurrent: true } : {}), ...(held ? { at: held.hit.name, pid: held.proc.pid } : {}), ...(this.peers.length ? { device: stepDevice(st) } : {}) });
      waits.begin(i, st.do);
      inflight.push(
        this.runVerb(i, st, held).finally(() => {
          waits.end(i);
          settle(st);
        }),
      );
    }
    await Promise.all(inflight);
  }

  private async runVerb(i: number, st: Step, held: Held | undefined): Promise<void> {
    // A step on device 2 runs on its engine (its processes, timers, rules, history tag).
    const e = this.engineFor(st);
    try {
      await e.verb(st, held);
      this.h.ok('orchestrator', 'step', { i, do: st.do, id: st.id });
    } catch (err) {
      this.harnessErrors.push(`step ${i} (${st.do}): ${(err as Error).message}`);
      this.h.fail('orchestrator', 'step', (err as Error).message, { i, do: st.do, id: st.id });
      if (held && st.do !== 'pause') e.unhold(held);
    }
  }

  private async trigger(i: number, st: Step): Promise<Held | undefined> {
    const w = st.when as { at_ms?: number; after?: string; at?: string; optional?: boolean } | undefined;
    if (!w) return undefined;
    if (w.at_ms !== undefined) {
      await sleep(w.at_ms - this.now());
      return undefined;
    }
    if (w.after !== undefined) {
      await this.done.get(w.after)?.p;
      return undefined;
    }
    // The engine of the device whose process the trigger waits for (not necessarily the step's).
    const triggers = this.engineOf((w as { device?: number }).device ?? 1).triggers;
    const fired = triggers.firedFor(i)!;
    // An optional trigger gives up as soon as the fast mode's does: the run goes on without it.
    const bound = w.optional ? Math.min(this.opts.triggerTimeoutMs, OPTIONAL_TRIGGER_MS) : this.opts.triggerTimeoutMs;
    let t: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, rej) => {
      const ph = (w as { phase?: string }).phase;
      t = setTimeout(() => rej(new NsekitError('SIM_TRIGGER_TIMEOUT', `failpoint ${w.at}${ph ? ` (phase ${ph})` : ''} not reached within ${bound} ms`, { step: i, at: w.at })), bound);
    });
    try {
      return await Promise.race([fired, timeout]);
    } catch (e) {
      triggers.disarm(w.at);
      throw e;
    } finally {
      clearTimeout(t);
    }
  }

  private async verb(st: Step, held: Held | undefined): Promise<void> {
    const dev = this.w.device;
    const role = st.proc as Role | undefined;
    const args = (st.args ?? {}) as Record<string, number | boolean | undefined>;
    const release = () => held && this.unhold(held);
    let p: Promise<void> = Promise.resolve();
    switch (st.do) {
      case 'freeze':
        this.freeze(role!, 'step');
        release(); // queued: the process reads it when thawed
        break;
      case 'thaw':
        this.thaw(role!, 'step');
        release();
        break;
      case 'kill': {
        const proc = this.proc(role!);
        if (proc) {
          this.rules.kill(role!, proc, 'step');
          p = proc.whenExited(); // the step ends when the device has seen the exit (a relaunch follows)
        }
        if (role === 'nse') {
          this.timers.clearNse();
          for (const l of [...this.frozenListeners]) l();
        }
        else this.timers.clearApp();
        release();
        break;
      }
      case 'power-cut': {
        // The kernel's page cache survives here (only the processes die): with the default
        // synchronous = FULL nothing committed is lost anyway. Fast mode drops unsynced commits.
        this.h.ok('orchestrator', 'power-cut', { unsyncedCommitsLost: 'not modelled in real mode' });
        const dead: Promise<void>[] = [];
        for (const r of ['app', 'nse'] as const) {
          const proc = this.proc(r);
          if (!proc) continue;
          this.rules.kill(r, proc, 'power-cut');
          dead.push(proc.whenExited());
        }
        this.timers.clearNse();
        this.timers.clearApp();
        for (const l of [...this.frozenListeners]) l();
        // The step ends when both are gone: a foreground right after must relaunch the app, not
        // send `active` to a process whose exit the device has not seen yet.
        p = Promise.all(dead).then(() => {});
        release();
        break;
      }
      case 'pause':
        if (held) this.paused.set(held.role, [...(this.paused.get(held.role) ?? []), held]);
        break;
      case 'resume': {
        const hs = this.paused.get(role!) ?? [];
        this.paused.delete(role!);
        for (const hp of hs) this.unhold(hp);
        release();
        break;
      }
      case 'foreground':
        p = this.foreground();
        // The moment the activation is under way (the NSE was asked to yield), let the held process go.
        await Promise.race([p, this.waitYielding()]);
        release();
        break;
      case 'tap': {
        // A tap on a notification of this conversation: the foreground, routed to its thread.
        const queueId = this.w.queues[Number(args.queue ?? 0)]!.queueId;
        this.h.ok('orchestrator', 'tap', { queueId, threadId: queueId });
        p = this.foreground(queueId);
        await Promise.race([p, this.waitYielding()]);
        release();
        break;
      }
      case 'background':
        this.timers.clearApp();
        // `task: false`: iOS granted no background task (docs/processes.md "Background time").
        p = args.task === false ? dev.appLifecycle('background', { bgTask: false }).then(() => this.timers.startNoTask()) : dev.appLifecycle('background').then(() => this.timers.startBackgroundTask());
        release();
        break;
      case 'expire':
        if (role === 'nse') this.timers.expireNse('step');
        else p = this.timers.expireApp('step');
        release();
        break;
      case 'lock-device':
        dev.lock();
        this.h.ok('orchestrator', 'lock-device', {});
        release();
        break;
      case 'unlock-device':
        dev.unlock();
        this.h.ok('orchestrator', 'unlock-device', {});
        release();
        break;
      case 'send':
        p = this.senders.send(args);
        release();
        break;
      case 'push': {
        const q = this.w.queues[Number(args.queue ?? 0)]!;
        this.w.pushHold.inject({ nids: [{ notifierId: q.notifierId, sealed: '' }] });
        release();
        break;
      }
      case 'partition':
        this.w.proxy.cut();
        for (const e of this.all) e.h.ok('orchestrator', 'partition', {});
        release();
        break;
      case 'heal':
        this.w.proxy.restore();
        for (const e of this.all) e.h.ok('orchestrator', 'heal', {});
        release();
        break;
      case 'restart-relay':
        for (const e of this.all) e.h.invoke('relay', 'restart', {});
        p = this.w.restartRelay().then(() => this.all.forEach((e) => void e.h.ok('relay', 'restart', {})));
        release();
        break;
      case 'delay-push':
        for (const e of this.all) e.w.pushHold.holdFor(Number(args.ms ?? 0), (n) => e.pushesReleased(n));
        release();
        break;
      case 'wait':
        release();
        p = sleep(Number(args.ms ?? 0));
        break;
      case 'token-change':
      case 'logout':
      case 'login':
        p = this.account.step(st.do);
        release();
        break;
      case 'settings':
      case 'refresh':
      case 'silent-push':
      case 'force-quit':
      case 'app-send':
        release();
        p = this.windows.verb(st.do, args);
        break;
    }
    await p;
  }

}
