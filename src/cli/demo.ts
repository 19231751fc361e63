// `nsekit demo` lives in ./demo/ (the walk, the chaos loop, the report); this path stays its entry.
export * from './demo/index.js';
