export * from './e2e.js';
export * from './pipeline.js';
