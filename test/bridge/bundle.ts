import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildBridge, type BridgeBuild } from '../../ios-bridge/build.js';

/**
 * Build the bridge bundles into a private temp dir (tests run in parallel with
 * other helpers' builds, so never share ios-bridge/dist). The result is the NSE
 * bundle (nsekit-nse.js); `app` is nsekit-app.js. Call cleanup() in afterAll.
 */
export async function buildTempBundle(): Promise<BridgeBuild & { dir: string; app: BridgeBuild; cleanup(): void }> {
  const dir = mkdtempSync(join(tmpdir(), 'nsekit-bridge-'));
  const b = await buildBridge({ role: 'nse', outfile: join(dir, 'nsekit-nse.js') });
  const app = await buildBridge({ role: 'app', outfile: join(dir, 'nsekit-app.js') });
  return { ...b, dir, app, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
