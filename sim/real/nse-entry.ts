/**
 * Simulation build of the NSE process entry: the shipping process
 * (src/nse/process.ts) with the broken variant named by NSEKIT_BROKEN
 * (sim/broken.ts) wrapped around its session's parts (sim/broken-components.ts).
 * The device runs this instead of src/nse/main.ts when the simulator selects a
 * variant (DeviceOpts.entries); the shipping bundle never contains it.
 */
import { runEntry } from '../../src/device/ipc.js';
import { nseProcess } from '../../src/nse/process.js';
import { brokenComponents } from '../broken-components.js';
import { BROKEN_ENV, parseBroken } from '../broken.js';

runEntry('nse', () => nseProcess(brokenComponents(parseBroken(process.env[BROKEN_ENV]))));
