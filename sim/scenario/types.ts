import type { FailpointName } from './failpoints.js';

/** The phases a `phase.enter` trigger can name (src/core/phase/machine.ts, docs/phase-machine.md). */
export const PHASES = ['active', 'background', 'suspending', 'suspended', 'activating'] as const;
export type PhaseName = (typeof PHASES)[number];

/** Processes on the simulated device that steps act on and failpoints come from. */
export type DeviceProc = 'app' | 'nse';

export const VERBS = [
  'freeze',
  'thaw',
  'kill',
  'foreground',
  'background',
  'expire',
  'lock-device',
  'unlock-device',
  'send',
  'push',
  'partition',
  'heal',
  'restart-relay',
  'power-cut',
  'delay-push',
  'pause',
  'resume',
  'wait',
  'tap',
  'token-change',
  'logout',
  'login',
  'settings',
  'refresh',
  'silent-push',
  'force-quit',
  'app-send',
] as const;
export type Verb = (typeof VERBS)[number];

/** Verbs that act on one device process and so need `proc`. */
export const PROC_VERBS: readonly Verb[] = ['freeze', 'thaw', 'kill', 'foreground', 'background', 'expire', 'pause', 'resume'];
/** Verbs only the app can take (the NSE has no foreground). */
export const APP_ONLY_VERBS: readonly Verb[] = ['foreground', 'background'];

export interface Budgets {
  /** App background-task budget before the expiration warning (iOS ms, scaled by timeFactor). */
  bgTaskMs: number;
  /** No background task granted (`background` with `task: false`): the app is frozen this long after leaving the front, without a warning (iOS ms, scaled). */
  noTaskMs: number;
  /** NSE budget before "time will expire" (iOS ms, scaled). */
  nseMs: number;
  /** Time between the expiry warning and the freeze (iOS ms, scaled). */
  nseGraceMs: number;
  /** NSE resident memory budget; exceeding it is a jetsam kill. */
  nseMemoryMb: number;
  /** false: iOS never delivers "time will expire" to the NSE (it is frozen at budget + grace all the same). */
  nseExpiryCallback?: boolean;
}

export interface World {
  mode: 'instant' | 'low-power';
  lockBackend: 'flock' | 'lease';
  senders: number;
  queues: number;
  budgets: Budgets;
  /** Multiplies every budget: 0.01 turns a 30 s NSE budget into 300 ms. */
  timeFactor: number;
  /** How long (run ms, not scaled) to wait after the final heal for delivery before checking liveness. */
  convergenceMs: number;
  /** Devices of the user (default 1): with 2, every queue is a fan-out group with a member queue on each device (docs/scenarios.md "A second device"). */
  devices?: 1 | 2;
}

/** A device number: steps and triggers without one address device 1. */
export type DeviceNo = 1 | 2;

export type Trigger =
  /** `optional`: a failpoint never reached skips the step (`step.skipped`) instead of making the verdict unknown. */
  /** `phase` (only with `at: 'phase.enter'`): only entries into that phase count, and `nth` counts those. */
  | { proc: DeviceProc; at: FailpointName; nth?: number; optional?: boolean; phase?: PhaseName; device?: DeviceNo }
  | { at_ms: number }
  | { after: string };

export interface SendArgs {
  count?: number;
  notification?: boolean;
  queue?: number;
  sender?: number;
  bytes?: number;
  /** Sealed under a key that is not the queue's: it never opens on the device (quarantined, ACKed, never shown). */
  poison?: boolean;
}

export interface Step {
  id?: string;
  when?: Trigger;
  do: Verb;
  proc?: DeviceProc;
  args?: Record<string, unknown>;
  note?: string;
  /** Start without waiting for the previous steps to finish (a `foreground` still waiting for the NSE to yield). */
  concurrent?: boolean;
  /** The device the step acts on (`world.devices: 2`); default 1. */
  device?: DeviceNo;
}

/** Verbs that act on the whole world, never on one device: they take no `device`. */
export const WORLD_VERBS: readonly Verb[] = ['send', 'partition', 'heal', 'restart-relay', 'delay-push', 'wait'];

/** A failpoint name, or `proc:name` to require it from one process. */
export type HitMark = FailpointName | `${DeviceProc}:${FailpointName}`;

export interface Expect {
  valid?: boolean;
  /** Invariants expected to be violated (for broken-variant scenarios). */
  violations?: string[];
  hits?: HitMark[];
}

export interface Scenario {
  $schema?: string;
  name: string;
  description?: string;
  world?: Partial<Omit<World, 'budgets'>> & { budgets?: Partial<Budgets> };
  steps: Step[];
  expect?: Expect;
}

export const DEFAULT_WORLD: World = {
  mode: 'instant',
  lockBackend: 'flock',
  senders: 1,
  queues: 1,
  budgets: { bgTaskMs: 30_000, noTaskMs: 5_000, nseMs: 30_000, nseGraceMs: 2_000, nseMemoryMb: 24 },
  timeFactor: 0.01,
  convergenceMs: 2_000,
};

/** The world with every default filled in. */
export function resolveWorld(s: Scenario): World {
  const w = s.world ?? {};
  return { ...DEFAULT_WORLD, ...w, budgets: { ...DEFAULT_WORLD.budgets, ...(w.budgets ?? {}) } };
}

/** A budget as the run applies it (iOS ms × timeFactor). */
export function scaledBudgets(w: World): Budgets {
  const f = w.timeFactor;
  return { ...w.budgets, bgTaskMs: w.budgets.bgTaskMs * f, noTaskMs: w.budgets.noTaskMs * f, nseMs: w.budgets.nseMs * f, nseGraceMs: w.budgets.nseGraceMs * f };
}

/**
 * How long an `optional` failpoint trigger waits before its step is skipped: run ms in real
 * mode, virtual ms in fast mode (where every trigger waits this long), so both give up alike.
 */
export const OPTIONAL_TRIGGER_MS = 2_000;
