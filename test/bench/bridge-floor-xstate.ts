/**
 * The raw baseline plus the other component the brief mandates: the core's xstate
 * phase machine (src/core/phase/machine.ts) in an actor, taken through the NSE's
 * closing cycle once (suspend → drain each class → store closed), the same
 * transitions the bridge's NSE makes. Global `NsekitFloor`, like bridge-floor.ts.
 */
import { createActor } from 'xstate';
import { DRAIN_ORDER } from '../../src/core/host.js';
import { phaseMachine } from '../../src/core/phase/machine.js';
import { run as runCrypto, type FloorInput } from './bridge-floor.js';

export function run(t: FloorInput, gc: () => void): number {
  const actor = createActor(phaseMachine);
  actor.start();
  const done = runCrypto(t, gc);
  actor.send({ type: 'SUSPEND' });
  for (const cls of DRAIN_ORDER) actor.send({ type: 'CLASS_DRAINED', cls });
  actor.send({ type: 'SUSPEND_DONE' });
  const phase = actor.getSnapshot().context.phase;
  if (phase !== 'suspended') throw new Error(`phase machine ended in ${phase}, not suspended`);
  actor.stop();
  return done;
}
