import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildBridge, type BridgeBuild } from '../../ios-bridge/build.js';

/**
 * Build the bridge bundle into a private temp dir (tests run in parallel with
 * other helpers' builds, so never share ios-bridge/dist). Call cleanup() in afterAll.
 */
export async function buildTempBundle(): Promise<BridgeBuild & { dir: string; cleanup(): void }> {
  const dir = mkdtempSync(join(tmpdir(), 'nsekit-bridge-'));
  const b = await buildBridge({ outfile: join(dir, 'nsekit-core.js') });
  return { ...b, dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
