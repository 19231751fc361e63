/** The simulation entries of the app and NSE processes (for DeviceOpts.entries). */
import { fileURLToPath } from 'node:url';

export const SIM_ENTRIES = {
  app: fileURLToPath(new URL('./app-entry.ts', import.meta.url)),
  nse: fileURLToPath(new URL('./nse-entry.ts', import.meta.url)),
} as const;
