export * from './timeline.js';
export * from './chrome-trace.js';
export * from './html.js';
export * from './story.js';
