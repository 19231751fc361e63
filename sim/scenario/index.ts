export * from './failpoints.js';
export * from './types.js';
export * from './json-schema.js';
export * from './validate.js';
export * from './builder.js';
export * from './expect.js';
export * from './devices.js';
