/**
 * The app process entry, spawned by the device with NSEKIT_CONFIG and an IPC
 * channel (see src/device/ipc.ts): bundled through src/device/launcher.cjs, or
 * unbundled with `node --import tsx src/app/main.ts`.
 */
import { runEntry } from '../device/ipc.js';
import { appProcess } from './process.js';

runEntry('app', () => appProcess());
