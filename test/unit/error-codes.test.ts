import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ErrorCodes, NsekitError, isNsekitError } from '../../src/core/errors.js';

describe('error codes', () => {
  const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');

  it('every code is documented in docs/errors.md', () => {
    const missing = Object.values(ErrorCodes).filter((c) => !doc.includes(`\`${c}\``));
    expect(missing).toEqual([]);
  });

  it('every code has its row: meaning and what to do', () => {
    const rows = new Map<string, string[]>();
    for (const line of doc.split('\n')) {
      const m = line.match(/^\| `([A-Z_]+)` \|(.*)\|$/);
      if (m) rows.set(m[1]!, m[2]!.split(' | ').map((c) => c.trim()));
    }
    const incomplete = Object.values(ErrorCodes).filter((c) => {
      const cells = rows.get(c);
      return !cells || cells.length !== 2 || cells.some((x) => x.length < 3);
    });
    expect(incomplete).toEqual([]);
  });

  it('every code is its own name (stable, greppable)', () => {
    for (const [k, v] of Object.entries(ErrorCodes)) expect(v).toBe(k);
  });

  it('NsekitError carries the code and details', () => {
    const e = new NsekitError('LOCK_TIMEOUT', 'waited 5 ms', { waitedMs: 5 });
    expect(e.code).toBe('LOCK_TIMEOUT');
    expect(e.message).toMatch(/^LOCK_TIMEOUT: /);
    expect(isNsekitError(e, 'LOCK_TIMEOUT')).toBe(true);
    expect(isNsekitError(e, 'STORE_LOCKED')).toBe(false);
    expect(isNsekitError(new Error('x'))).toBe(false);
  });
});
