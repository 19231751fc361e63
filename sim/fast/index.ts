export { runFast, replayCommand, type FastOptions, type FastResult, type FastViolation } from './run.js';
export { Scheduler } from './scheduler.js';
export { Prng } from './prng.js';
export { FastWorld } from './world.js';
export { benchFast, type FastBench } from './bench.js';
