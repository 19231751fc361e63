export { runScenario, paramsLine, deriveParams, randomSeed, MIN_GRACE_MS, type RunOptions, type RunResult, type RunViolation } from './run.js';
export { SimWorld } from './world.js';
export { Engine, seededRng } from './engine.js';
export { IosRules } from './rules.js';
export { NetProxy } from './net-proxy.js';
export { PushHold } from './push-hold.js';
