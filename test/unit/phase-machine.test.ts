import { describe, expect, it } from 'vitest';
import { initialTransition, transition, type SnapshotFrom } from 'xstate';
import { DRAIN_ORDER, NETWORK_CLASSES, type OpClass } from '../../src/core/host.js';
import { phaseMachine, type PhaseMachineEvent } from '../../src/core/phase/index.js';

type Snap = SnapshotFrom<typeof phaseMachine>;

/** Apply events with xstate's pure transition(); nothing is executed. */
function run(events: PhaseMachineEvent[], from?: Snap): Snap {
  let s = from ?? initialTransition(phaseMachine)[0];
  for (const e of events) s = transition(phaseMachine, s, e)[0];
  return s;
}
const drained = (cls: OpClass): PhaseMachineEvent => ({ type: 'CLASS_DRAINED', cls });
const opened = (cls: OpClass): PhaseMachineEvent => ({ type: 'CLASS_OPENED', cls });
const drainAll = DRAIN_ORDER.map(drained);

describe('phase machine (pure transition)', () => {
  it('starts active with every class open', () => {
    const [s, actions] = initialTransition(phaseMachine);
    expect(s.value).toBe('active');
    expect(s.context).toEqual({ phase: 'active', blocked: [], draining: null, storeClosed: false, toBackground: false });
    // only context assignments: the machine has no side effects to execute
    expect(actions).toEqual([]);
    expect(transition(phaseMachine, s, { type: 'SUSPEND' })[1]).toEqual([]);
  });

  it('active --BACKGROUND--> background: network classes blocked, database open', () => {
    const s = run([{ type: 'BACKGROUND' }]);
    expect(s.value).toBe('background');
    expect(s.context.phase).toBe('background');
    expect(s.context.blocked).toEqual([...NETWORK_CLASSES]);
    expect(s.context.blocked).not.toContain('database');
  });

  it('active --SUSPEND--> suspending.draining blocks only the first class', () => {
    const s = run([{ type: 'SUSPEND' }]);
    expect(s.value).toEqual({ suspending: 'draining' });
    expect(s.context.phase).toBe('suspending');
    expect(s.context.draining).toBe('notificationNetwork');
    expect(s.context.blocked).toEqual(['notificationNetwork']);
  });

  it('CLASS_DRAINED advances strictly in DRAIN_ORDER; the database is blocked last', () => {
    let s = run([{ type: 'SUSPEND' }]);
    const seen: OpClass[][] = [];
    for (const cls of DRAIN_ORDER.slice(0, -1)) {
      // a drained event for any class other than the current one is ignored
      const other = DRAIN_ORDER.find((c) => c !== cls)!;
      expect(run([drained(other)], s).context).toEqual(s.context);
      s = run([drained(cls)], s);
      seen.push([...s.context.blocked]);
    }
    expect(seen).toEqual([
      ['notificationNetwork', 'receiveNetwork'],
      ['notificationNetwork', 'receiveNetwork', 'sendNetwork'],
      [...DRAIN_ORDER],
    ]);
    expect(s.context.draining).toBe('database');
    s = run([drained('database')], s);
    expect(s.value).toEqual({ suspending: 'closing' });
    expect(s.context.draining).toBeNull();
  });

  it('closing ignores ACTIVATE and DEADLINE; SUSPEND_DONE enters suspended with the store closed', () => {
    const closing = run([{ type: 'SUSPEND' }, ...drainAll]);
    expect(run([{ type: 'ACTIVATE' }], closing).value).toEqual({ suspending: 'closing' });
    expect(run([{ type: 'DEADLINE' }], closing).value).toEqual({ suspending: 'closing' });
    const s = run([{ type: 'SUSPEND_DONE' }], closing);
    expect(s.value).toBe('suspended');
    expect(s.context).toMatchObject({ phase: 'suspended', storeClosed: true, blocked: [...DRAIN_ORDER] });
  });

  it('DEADLINE mid-drain blocks every class at once and goes to closing', () => {
    const s = run([{ type: 'SUSPEND' }, drained('notificationNetwork'), { type: 'DEADLINE' }]);
    expect(s.value).toEqual({ suspending: 'closing' });
    expect(s.context.blocked).toEqual([...DRAIN_ORDER]);
  });

  it('background --SUSPEND--> draining keeps the network classes blocked', () => {
    const s = run([{ type: 'BACKGROUND' }, { type: 'SUSPEND' }]);
    expect(s.value).toEqual({ suspending: 'draining' });
    expect(s.context.blocked).toEqual([...NETWORK_CLASSES]);
    expect(s.context.draining).toBe('notificationNetwork');
  });

  it('suspended --ACTIVATE--> reopening; STORE_REOPENED; classes open only in reverse DRAIN_ORDER', () => {
    let s = run([{ type: 'SUSPEND' }, { type: 'DEADLINE' }, { type: 'SUSPEND_DONE' }, { type: 'ACTIVATE' }]);
    expect(s.value).toEqual({ activating: 'reopening' });
    expect(s.context.phase).toBe('activating');
    // nothing opens before the store is reopened
    expect(run([opened('database')], s).context.blocked).toEqual([...DRAIN_ORDER]);
    s = run([{ type: 'STORE_REOPENED' }], s);
    expect(s.value).toEqual({ activating: 'opening' });
    expect(s.context.storeClosed).toBe(false);
    // out-of-order open is ignored; ACTIVATE_DONE before everything is open is ignored
    expect(run([opened('notificationNetwork')], s).context.blocked).toEqual([...DRAIN_ORDER]);
    expect(run([{ type: 'ACTIVATE_DONE' }], s).value).toEqual({ activating: 'opening' });
    for (const cls of [...DRAIN_ORDER].reverse()) {
      s = run([opened(cls)], s);
      expect(s.context.blocked).not.toContain(cls);
    }
    s = run([{ type: 'ACTIVATE_DONE' }], s);
    expect(s.value).toBe('active');
    expect(s.context).toEqual({ phase: 'active', blocked: [], draining: null, storeClosed: false, toBackground: false });
  });

  it('ACTIVATE_FAILED while reopening returns to suspended', () => {
    const s = run([{ type: 'SUSPEND' }, { type: 'DEADLINE' }, { type: 'SUSPEND_DONE' }, { type: 'ACTIVATE' }, { type: 'ACTIVATE_FAILED' }]);
    expect(s.value).toBe('suspended');
    expect(s.context.blocked).toEqual([...DRAIN_ORDER]);
    expect(s.context.storeClosed).toBe(true);
  });

  it('ACTIVATE mid-drain cancels it and skips reopening (store never closed)', () => {
    const s = run([{ type: 'SUSPEND' }, drained('notificationNetwork'), { type: 'ACTIVATE' }]);
    expect(s.value).toEqual({ activating: 'opening' });
    expect(s.context.draining).toBeNull();
    expect(s.context.blocked).toEqual(['notificationNetwork', 'receiveNetwork']);
    const done = run([opened('receiveNetwork'), opened('notificationNetwork'), { type: 'ACTIVATE_DONE' }], s);
    expect(done.value).toBe('active');
  });

  it('background --ACTIVATE--> opening the network classes, sendNetwork first', () => {
    let s = run([{ type: 'BACKGROUND' }, { type: 'ACTIVATE' }]);
    expect(s.value).toEqual({ activating: 'opening' });
    s = run([opened('notificationNetwork')], s);
    expect(s.context.blocked).toContain('notificationNetwork');
    s = run([opened('sendNetwork'), opened('receiveNetwork'), opened('notificationNetwork'), { type: 'ACTIVATE_DONE' }], s);
    expect(s.value).toBe('active');
    expect(s.context.blocked).toEqual([]);
  });

  it('BACKGROUND while activating: only the database opens, then background', () => {
    let s = run([{ type: 'SUSPEND' }, { type: 'DEADLINE' }, { type: 'SUSPEND_DONE' }, { type: 'ACTIVATE' }, { type: 'BACKGROUND' }]);
    expect(s.context.toBackground).toBe(true);
    s = run([{ type: 'STORE_REOPENED' }, opened('database'), opened('sendNetwork')], s);
    expect(s.context.blocked).toEqual([...NETWORK_CLASSES]);
    s = run([{ type: 'ACTIVATE_DONE' }], s);
    expect(s.value).toBe('background');
    expect(s.context.blocked).toEqual([...NETWORK_CLASSES]);
    // a later ACTIVATE while still activating would have cleared it
    const again = run([{ type: 'SUSPEND' }, { type: 'DEADLINE' }, { type: 'SUSPEND_DONE' }, { type: 'ACTIVATE' }, { type: 'BACKGROUND' }, { type: 'ACTIVATE' }]);
    expect(again.context.toBackground).toBe(false);
  });

  it('events that mean nothing in a phase are ignored', () => {
    expect(run([{ type: 'ACTIVATE' }]).value).toBe('active');
    expect(run([{ type: 'SUSPEND_DONE' }]).value).toBe('active');
    const suspended = run([{ type: 'SUSPEND' }, { type: 'DEADLINE' }, { type: 'SUSPEND_DONE' }]);
    expect(run([{ type: 'BACKGROUND' }], suspended).value).toBe('suspended');
    expect(run([{ type: 'SUSPEND' }], suspended).value).toBe('suspended');
    const bg = run([{ type: 'BACKGROUND' }]);
    expect(run([{ type: 'BACKGROUND' }], bg).context).toEqual(bg.context);
    expect(run([{ type: 'BACKGROUND' }], run([{ type: 'SUSPEND' }])).value).toEqual({ suspending: 'draining' });
  });
});
