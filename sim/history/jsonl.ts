import { readFileSync, writeFileSync } from 'node:fs';
import { ErrorCodes, NsekitError } from '../../src/core/errors.js';
import { opShapeError, type History, type Op } from './types.js';

export interface ParsedHistory {
  ops: Op[];
  /** True if the last line was incomplete (writer died mid-line) and was skipped. */
  torn: boolean;
}

/**
 * Parses JSONL history text. A final line without its newline that does not
 * parse is a torn write and is skipped; any other bad line is an error
 * (HISTORY_BAD_LINE) with its 1-based line number.
 */
export function parseHistory(text: string): ParsedHistory {
  const lines = text.split('\n');
  const endsClean = text.endsWith('\n') || text === '';
  const last = endsClean ? -1 : lines.length - 1;
  const ops: Op[] = [];
  let torn = false;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trim() === '') continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      if (i === last) {
        torn = true;
        continue;
      }
      throw new NsekitError(ErrorCodes.HISTORY_BAD_LINE, `line ${i + 1}: not JSON`, { line: i + 1 });
    }
    const why = opShapeError(parsed);
    if (why) {
      if (i === last) {
        torn = true;
        continue;
      }
      throw new NsekitError(ErrorCodes.HISTORY_BAD_LINE, `line ${i + 1}: ${why}`, { line: i + 1 });
    }
    ops.push(parsed as Op);
  }
  return { ops, torn };
}

export function readHistory(path: string): ParsedHistory {
  return parseHistory(readFileSync(path, 'utf8'));
}

export function toJsonl(history: History): string {
  return history.map((op) => JSON.stringify(op) + '\n').join('');
}

export function writeHistory(path: string, history: History): void {
  writeFileSync(path, toJsonl(history));
}
