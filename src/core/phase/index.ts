export { phaseMachine, nextToOpen, withBlocked } from './machine.js';
export type { Phase, PhaseContext, PhaseMachineEvent } from './machine.js';
export { PhaseController } from './controller.js';
export type { PhaseHooks, PhaseControllerOptions, PhaseEvent, PhaseEventName } from './controller.js';
