export { SharedStore, flagsToInt, intToFlags } from './shared-store.js';
export type { SharedStoreOptions, PlainMessage, OutboxItem, OutboxState, Cursor } from './shared-store.js';
export { SCHEMA_VERSION, MIGRATIONS } from './schema.js';
