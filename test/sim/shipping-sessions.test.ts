/**
 * The simulator runs the code that ships: `nsekit explore` (fast mode) loads and executes the
 * app and NSE sessions of src/core/session — the same modules the Node processes and the
 * bridge run — and sim/fast holds no app or NSE behaviour of its own, only ports, the
 * scheduler and the simulated device.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'nsekit-ship-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('explore executes the shipping sessions', () => {
  it('the modules loaded by `nsekit explore` include the session code of src/core/session, and nothing of an app/NSE model', () => {
    const log = join(dir, 'modules.txt');
    execFileSync(
      process.execPath,
      ['--import', join(REPO, 'test/helpers/record-modules.mjs'), join(REPO, 'bin/nsekit.js'), 'explore', '--runs', '20', '--seed', '1', '--json', '--out', join(dir, 'out')],
      { cwd: dir, env: { ...process.env, NSEKIT_MODULE_LOG: log }, stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 },
    );
    const loaded = new Set(
      readFileSync(log, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((u) => fileURLToPath(u.split('?')[0]!).slice(REPO.length).replace(/\\/g, '/')),
    );
    for (const f of [
      'src/core/session/runtime.ts',
      'src/core/session/app/app.ts',
      'src/core/session/app/realtime.ts',
      'src/core/session/app/outbox.ts',
      'src/core/session/app/low-power.ts',
      'src/core/session/nse/nse.ts',
      'src/core/inbound/pipeline.ts',
      'src/core/queue/coordinator.ts',
      'src/core/phase/controller.ts',
    ]) {
      expect(loaded.has(f), `${f} loaded`).toBe(true);
    }
    expect([...loaded].filter((f) => f.startsWith('sim/fast/') && /\/(app|nse|models?)\.ts$/.test(f))).toEqual([]);
  });

  it('sim/fast builds ports for src/core/session and imports none of the session internals itself', () => {
    const fast = join(REPO, 'sim/fast');
    const files = readdirSync(fast).filter((f) => f.endsWith('.ts'));
    expect(files).not.toContain('app.ts');
    expect(files).not.toContain('nse.ts');
    for (const f of files) {
      const src = readFileSync(join(fast, f), 'utf8');
      // The pipeline, the phase controller and the coordinator are the sessions' to drive.
      expect(src, f).not.toMatch(/from '\.\.\/\.\.\/src\/core\/(phase|queue)\//);
      expect(src, f).not.toMatch(/\b(fetchAndProcess|processInbound|deliverInbound)\b/);
    }
  });
});
