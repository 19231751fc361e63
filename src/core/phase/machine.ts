/**
 * The phase machine: which lifecycle phase a process is in and which operation
 * classes are blocked. Pure xstate v5 logic — no delays (`after` would use
 * ambient timers), no side effects. The controller (controller.ts) owns the
 * in-flight counts and waiters and feeds the machine the events below; the
 * same machine can be stepped with xstate's pure `transition()`.
 */
import { assign, setup } from 'xstate';
import { DRAIN_ORDER, NETWORK_CLASSES, type OpClass } from '../host.js';

export type Phase = 'active' | 'background' | 'suspending' | 'suspended' | 'activating';

export interface PhaseContext {
  phase: Phase;
  /** Blocked classes, always listed in DRAIN_ORDER. */
  blocked: readonly OpClass[];
  /** The class the drain is waiting on (suspending.draining only). */
  draining: OpClass | null;
  /** True once onSuspend ran (store closed) until onActivate reopened it. */
  storeClosed: boolean;
  /** background() arrived while activating: finish in `background`, network stays blocked. */
  toBackground: boolean;
}

export type PhaseMachineEvent =
  | { type: 'BACKGROUND' }
  | { type: 'SUSPEND' }
  /** The class being drained reached zero in flight. */
  | { type: 'CLASS_DRAINED'; cls: OpClass }
  /** The suspend deadline passed (or suspend(0)): block everything now. */
  | { type: 'DEADLINE' }
  /** onSuspend finished (store closed). */
  | { type: 'SUSPEND_DONE' }
  | { type: 'ACTIVATE' }
  /** onActivate finished (store reopened). */
  | { type: 'STORE_REOPENED' }
  /** onActivate threw: back to suspended. */
  | { type: 'ACTIVATE_FAILED' }
  /** Open the next class in reverse DRAIN_ORDER. */
  | { type: 'CLASS_OPENED'; cls: OpClass }
  /** Every class that should open is open. */
  | { type: 'ACTIVATE_DONE' };

/** `blocked` plus `add`, kept in DRAIN_ORDER. */
export function withBlocked(blocked: readonly OpClass[], add: readonly OpClass[]): OpClass[] {
  return DRAIN_ORDER.filter((c) => blocked.includes(c) || add.includes(c));
}

/** The next class activation opens: the last blocked one in DRAIN_ORDER (database first). */
export function nextToOpen(ctx: Pick<PhaseContext, 'blocked' | 'toBackground'>): OpClass | null {
  for (let i = DRAIN_ORDER.length - 1; i >= 0; i--) {
    const c = DRAIN_ORDER[i]!;
    if (!ctx.blocked.includes(c)) continue;
    if (ctx.toBackground && NETWORK_CLASSES.includes(c)) continue;
    return c;
  }
  return null;
}

/** What changed between two contexts: blocked classes in DRAIN_ORDER, opened ones in reverse. */
export function diffContexts(prev: PhaseContext, next: PhaseContext): { phase: Phase | null; blocked: OpClass[]; opened: OpClass[] } {
  return {
    phase: prev.phase !== next.phase ? next.phase : null,
    blocked: DRAIN_ORDER.filter((c) => next.blocked.includes(c) && !prev.blocked.includes(c)),
    opened: DRAIN_ORDER.filter((c) => prev.blocked.includes(c) && !next.blocked.includes(c)).reverse(),
  };
}

const LAST = DRAIN_ORDER[DRAIN_ORDER.length - 1]!;
const FIRST = DRAIN_ORDER[0]!;

export const phaseMachine = setup({
  types: {} as { context: PhaseContext; events: PhaseMachineEvent },
  guards: {
    drainedCurrent: ({ context, event }) => event.type === 'CLASS_DRAINED' && event.cls === context.draining,
    drainedLast: ({ context, event }) =>
      event.type === 'CLASS_DRAINED' && event.cls === context.draining && context.draining === LAST,
    storeOpen: ({ context }) => !context.storeClosed,
    isNextToOpen: ({ context, event }) => event.type === 'CLASS_OPENED' && event.cls === nextToOpen(context),
    allOpenToBackground: ({ context }) => nextToOpen(context) === null && context.toBackground,
    allOpen: ({ context }) => nextToOpen(context) === null,
  },
  actions: {
    enterActive: assign({ phase: 'active' as Phase, draining: null, toBackground: false }),
    enterBackground: assign(({ context }) => ({
      phase: 'background' as Phase,
      toBackground: false,
      blocked: withBlocked(context.blocked, NETWORK_CLASSES),
    })),
    enterSuspending: assign({ phase: 'suspending' as Phase }),
    startDrain: assign(({ context }) => ({ draining: FIRST, blocked: withBlocked(context.blocked, [FIRST]) })),
    drainNext: assign(({ context }) => {
      const next = DRAIN_ORDER[DRAIN_ORDER.indexOf(context.draining ?? FIRST) + 1] ?? LAST;
      return { draining: next, blocked: withBlocked(context.blocked, [next]) };
    }),
    blockAll: assign({ blocked: () => [...DRAIN_ORDER] }),
    stopDraining: assign({ draining: null }),
    enterSuspended: assign({
      phase: 'suspended' as Phase,
      storeClosed: true,
      draining: null,
      blocked: () => [...DRAIN_ORDER],
    }),
    enterActivating: assign({ phase: 'activating' as Phase, draining: null, toBackground: false }),
    markToBackground: assign({ toBackground: true }),
    clearToBackground: assign({ toBackground: false }),
    markStoreOpen: assign({ storeClosed: false }),
    openClass: assign(({ context, event }) => ({
      blocked: context.blocked.filter((c) => !(event.type === 'CLASS_OPENED' && c === event.cls)),
    })),
  },
}).createMachine({
  id: 'phase',
  context: { phase: 'active', blocked: [], draining: null, storeClosed: false, toBackground: false },
  initial: 'active',
  states: {
    active: {
      entry: 'enterActive',
      on: { BACKGROUND: 'background', SUSPEND: 'suspending' },
    },
    background: {
      entry: 'enterBackground',
      on: { SUSPEND: 'suspending', ACTIVATE: 'activating' },
    },
    suspending: {
      entry: 'enterSuspending',
      initial: 'draining',
      states: {
        draining: {
          entry: 'startDrain',
          on: {
            CLASS_DRAINED: [
              { guard: 'drainedLast', target: 'closing' },
              { guard: 'drainedCurrent', actions: 'drainNext' },
            ],
            DEADLINE: { target: 'closing', actions: 'blockAll' },
            // Cancels the drain. Not accepted in `closing`: onSuspend cannot be
            // interrupted, the controller waits for it and activates afterwards.
            ACTIVATE: '#phase.activating',
          },
        },
        closing: {
          entry: 'stopDraining',
          on: { SUSPEND_DONE: '#phase.suspended' },
        },
      },
    },
    suspended: {
      entry: 'enterSuspended',
      on: { ACTIVATE: 'activating' },
    },
    activating: {
      entry: 'enterActivating',
      initial: 'reopening',
      on: {
        BACKGROUND: { actions: 'markToBackground' },
        ACTIVATE: { actions: 'clearToBackground' },
      },
      states: {
        reopening: {
          // Nothing to reopen when the store was never closed (background, cancelled drain).
          always: { guard: 'storeOpen', target: 'opening' },
          on: {
            STORE_REOPENED: { target: 'opening', actions: 'markStoreOpen' },
            ACTIVATE_FAILED: '#phase.suspended',
          },
        },
        opening: {
          on: {
            CLASS_OPENED: { guard: 'isNextToOpen', actions: 'openClass' },
            ACTIVATE_DONE: [
              { guard: 'allOpenToBackground', target: '#phase.background' },
              { guard: 'allOpen', target: '#phase.active' },
            ],
          },
        },
      },
    },
  },
});
