export * from './frames.js';
export * from './codec.js';
export * from './notification-id.js';
export * from './status-sig.js';
