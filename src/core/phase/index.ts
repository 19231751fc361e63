export { phaseMachine, nextToOpen, withBlocked, diffContexts } from './machine.js';
export type { Phase, PhaseContext, PhaseMachineEvent } from './machine.js';
export { PhaseController } from './controller.js';
export type { PhaseHooks, PhaseControllerOptions } from './types.js';
export type { PhaseEvent, PhaseEventName, PhaseListener } from './events.js';
