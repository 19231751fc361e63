export { SharedStore } from './shared-store.js';
export { flagsToInt, intToFlags } from './types.js';
export type { SharedStoreOptions, PlainMessage, OutboxItem, OutboxState, Cursor } from './types.js';
export { SCHEMA_VERSION, MIGRATIONS } from './schema.js';
