/** The in-memory host fakes moved to sim/fast/fakes.ts (fast mode builds on them); re-exported for tests. */
export * from '../../sim/fast/fakes.js';
