/**
 * The NSE process entry, launched by the device on a mutable-content push and
 * reused for later pushes while alive: bundled, `node src/device/launcher.cjs
 * nse.cjs` (src/device/bundle.ts), or unbundled `node --import tsx src/nse/main.ts`.
 */
import { runEntry } from '../device/ipc.js';
import { nseProcess } from './process.js';

runEntry('nse', () => nseProcess());
