/**
 * `world.devices: 2` (docs/scenarios.md "A second device"): which device a step's own history op
 * belongs to. The step runner's ops are shared by both devices' histories unless they name one
 * (`value.device`); a step held at a failpoint belongs to the device whose process is held (its
 * `at`/`pid` describe that hold), any other step to the device it acts on — world verbs (`send`,
 * `partition`, …) to none: both devices see them.
 */
import { WORLD_VERBS, type Step } from './types.js';

export function stepDevice(st: Step): number | undefined {
  const w = st.when as { proc?: string; device?: number } | undefined;
  if (w?.proc) return w.device ?? 1;
  if (st.device !== undefined) return st.device;
  return WORLD_VERBS.includes(st.do) ? undefined : 1;
}
