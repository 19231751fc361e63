/** The controller's listener registry. A throwing listener is logged, never breaks a transition. */
import type { OpClass } from '../host.js';
import type { Phase } from './machine.js';

export type PhaseEventName = 'phase' | 'suspended' | 'activated' | 'blocked' | 'opened';
export interface PhaseEvent {
  phase: Phase;
  /** The class, for 'blocked' and 'opened'. */
  cls?: OpClass;
}
export type PhaseListener = (e: PhaseEvent) => void;

export class PhaseEmitter {
  private readonly listeners = new Map<PhaseEventName, Set<PhaseListener>>();

  constructor(private readonly onListenerError: (event: PhaseEventName, error: unknown) => void) {}

  on(event: PhaseEventName, fn: PhaseListener): () => void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(fn);
    return () => void set.delete(fn);
  }

  emit(event: PhaseEventName, e: PhaseEvent): void {
    for (const fn of [...(this.listeners.get(event) ?? [])]) {
      try {
        fn(e);
      } catch (error) {
        this.onListenerError(event, error);
      }
    }
  }
}
