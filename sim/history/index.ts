export * from './types.js';
export * from './recorder.js';
export * from './jsonl.js';
export * from './pairs.js';
export * from './failpoint-ops.js';
