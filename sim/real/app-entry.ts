/**
 * Simulation build of the app process entry: the shipping process
 * (src/app/process.ts) with the broken variant named by NSEKIT_BROKEN
 * (sim/broken.ts) wrapped around its session's parts (sim/broken-components.ts).
 * The device runs this instead of src/app/main.ts when the simulator selects a
 * variant (DeviceOpts.entries); the shipping bundle never contains it.
 */
import { appProcess } from '../../src/app/process.js';
import { runEntry } from '../../src/device/ipc.js';
import { brokenComponents } from '../broken-components.js';
import { BROKEN_ENV, parseBroken } from '../broken.js';

runEntry('app', () => appProcess(brokenComponents(parseBroken(process.env[BROKEN_ENV]))));
