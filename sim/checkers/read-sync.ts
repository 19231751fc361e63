import { msgIdOf } from '../history/pairs.js';
import { isEvent } from './bounded-work.js';
import { happened } from './common.js';
import { devicesIn } from './per-device.js';
import { verdict, type Checker, type Op, type Violation } from './types.js';

/**
 * Invariant 14 — reads across devices (docs/invariants.md, docs/notifications.md "Read on another
 * device"). Judged over the whole history of a two-device run; a one-device run is not judged.
 * The copies of one sent message on the devices share the sender's `label`.
 *
 * (a) safety: a copy a device marks read because of another device's read marker (`thread-read`
 *     with `remote: true`) was read on that other device first — a local `thread-read` there
 *     listed the other copy of the same message before. A marker applied beyond its `upTo` would
 *     mark messages the user never saw anywhere.
 * (b) liveness: when a device read a conversation and told the others (its next `read-sync`
 *     `sent` event for that queue, `devices ≥ 1`: the relay has the marker), each copy on another
 *     device that was in its store before that device applied the k-th marker for the
 *     conversation (its k-th remote `thread-read` there; k: this read's marker's place among the
 *     markers sent for the conversation) is read in that device's final store snapshot. A copy
 *     that reached the other store only after the marker is left unread by design (a banner left
 *     behind, never one removed unseen).
 */
const val = (op: Op): Record<string, unknown> => (op.value ?? {}) as Record<string, unknown>;
const isDeviceProc = (op: Op) => op.proc === 'app' || op.proc === 'nse';

interface Copy {
  device: number;
  msgId: string;
  queueId: string;
}

export const checkReadSync: Checker = (history) => {
  const devices = devicesIn(history);
  if (devices.length < 2) return verdict('read-sync', [], ['one device: not judged'], false, 'liveness');
  const violations: Violation[] = [];
  const notes: string[] = [];
  // label → its copies; msgId → label
  const copies = new Map<string, Copy[]>();
  const labelOf = new Map<string, string>();
  for (const op of history) {
    const v = val(op);
    if (op.proc !== 'sender' || op.f !== 'send' || op.type !== 'ok' || op.device === undefined) continue;
    const id = msgIdOf(op);
    if (!id || typeof v.label !== 'string') continue;
    labelOf.set(id, v.label);
    const l = copies.get(v.label) ?? [];
    l.push({ device: op.device, msgId: id, queueId: String(v.queueId) });
    copies.set(v.label, l);
  }
  const otherCopy = (msgId: string, device: number): Copy | undefined => copies.get(labelOf.get(msgId) ?? '')?.find((c) => c.device !== device);

  // (a) every remote read is backed by an earlier local read of the other copy.
  const readLocallyAt = new Map<string, number>(); // msgId → first local thread-read listing it
  const remoteReads = new Map<string, number[]>(); // `${device}:${queueId}` → remote thread-read indices
  for (const op of history) {
    if (!isDeviceProc(op) || !isEvent(op, 'thread-read') || !happened(op) || op.device === undefined) continue;
    const v = val(op);
    const ids = Array.isArray(v.msgIds) ? (v.msgIds as unknown[]).filter((x): x is string => typeof x === 'string') : [];
    if (v.remote !== true) {
      for (const id of ids) if (!readLocallyAt.has(id)) readLocallyAt.set(id, op.index);
      continue;
    }
    const key = `${op.device}:${String(v.queueId)}`;
    remoteReads.set(key, [...(remoteReads.get(key) ?? []), op.index]);
    for (const id of ids) {
      const other = otherCopy(id, op.device);
      if (!other) continue;
      const at = readLocallyAt.get(other.msgId);
      if (at === undefined || at > op.index) {
        violations.push({ detail: `device ${op.device} marked ${id} read by another device's marker, but device ${other.device} never read its copy ${other.msgId} before`, ops: [op.index], msgId: id, proc: op.proc, device: op.device });
      }
    }
  }

  const safetyCount = violations.length; // every violation so far is (a)

  // (b) reads reach the other device's store.
  const snaps = new Map<number, Op>();
  for (const op of history) if (op.f === 'store.snapshot' && happened(op) && op.device !== undefined && typeof val(op).content === 'object') snaps.set(op.device, op);
  if (snaps.size < devices.length) {
    notes.push('no final store snapshot with read state on every device: (b) not judged');
    return verdict('read-sync', violations, notes, false, safetyCount > 0 ? 'safety' : 'liveness');
  }
  const storedAt = storedIndices(history);
  const sentMarkers = new Map<string, number>(); // `${device}:${queueId}` → markers sent so far
  const pending: { op: Op; device: number; queueId: string; ids: string[] }[] = [];
  const unapplied = new Set<string>();
  for (const op of history) {
    if (!isDeviceProc(op) || !happened(op) || op.device === undefined) continue;
    const v = val(op);
    if (isEvent(op, 'thread-read') && v.remote !== true && op.proc === 'app') {
      const ids = Array.isArray(v.msgIds) ? (v.msgIds as unknown[]).filter((x): x is string => typeof x === 'string') : [];
      pending.push({ op, device: op.device, queueId: String(v.queueId), ids });
      continue;
    }
    if (!isEvent(op, 'read-sync') || v.state !== 'sent') continue;
    const key = `${op.device}:${String(v.queueId)}`;
    const k = (sentMarkers.get(key) ?? 0) + 1;
    sentMarkers.set(key, k);
    // The read this marker tells of: the device's last local read of that queue not yet told.
    const i = pending.map((p) => p.device === op.device && p.queueId === v.queueId).lastIndexOf(true);
    if (i < 0) continue;
    const read = pending.splice(i, 1)[0]!;
    if (typeof v.devices !== 'number' || v.devices < 1) continue;
    for (const id of read.ids) {
      const other = otherCopy(id, read.device);
      if (!other) continue;
      const applied = remoteReads.get(`${other.device}:${other.queueId}`)?.[k - 1];
      const stored = storedAt.get(`${other.device}:${other.msgId}`);
      if (applied === undefined) {
        // Never applied: a fault only when the marker reached that device's store (its k-th
        // device-sync row) — markers are best effort until then.
        const markersThere = Object.values(val(snaps.get(other.device)!).content as Record<string, { deviceSync?: unknown }>).filter((r) => r.deviceSync === true).length;
        if (markersThere >= k && !unapplied.has(`${other.device}:${k}:${read.op.index}`)) {
          unapplied.add(`${other.device}:${k}:${read.op.index}`);
          violations.push({ detail: `device ${read.device} read ${id} and told device ${other.device}, whose store holds the marker, but it never applied it`, ops: [read.op.index, op.index, snaps.get(other.device)!.index], msgId: other.msgId, device: other.device });
        }
        continue;
      }
      if (stored === undefined || stored > applied) continue;
      const row = (val(snaps.get(other.device)!).content as Record<string, { read?: unknown }>)[other.msgId];
      if (row && row.read !== true) {
        violations.push({
          detail: `device ${read.device} read ${id} and told device ${other.device}, which applied the marker (op ${applied}) after storing its copy ${other.msgId}, but its copy is unread at the end`,
          ops: [read.op.index, op.index, applied, snaps.get(other.device)!.index],
          msgId: other.msgId,
          device: other.device,
        });
      }
    }
  }
  // (a) is safety; (b) alone, liveness (its own exit code, as invariant 7).
  return verdict('read-sync', violations, notes, false, safetyCount > 0 ? 'safety' : 'liveness');
};

/** `${device}:${msgId}` → when the copy was in that device's store: its first inserting write, or the import after its inbox append. */
function storedIndices(history: readonly Op[]): Map<string, number> {
  const out = new Map<string, number>();
  const appended = new Map<string, number>(); // `${device}` → inbox appends awaiting an import: msgIds
  const waiting = new Map<number, string[]>();
  for (const op of history) {
    if (!isDeviceProc(op) || op.device === undefined) continue;
    const id = msgIdOf(op);
    if (op.f === 'db.write' && op.type === 'ok' && op.value?.inserted === true && id && !out.has(`${op.device}:${id}`)) out.set(`${op.device}:${id}`, op.index);
    else if ((op.f === 'inbox.append' || op.f === 'inbox.write') && op.type === 'ok' && id) {
      if (!appended.has(`${op.device}:${id}`)) waiting.set(op.device, [...(waiting.get(op.device) ?? []), id]);
      appended.set(`${op.device}:${id}`, op.index);
    } else if (isEvent(op, 'imported') && happened(op)) {
      for (const w of waiting.get(op.device) ?? []) if (!out.has(`${op.device}:${w}`)) out.set(`${op.device}:${w}`, op.index);
      waiting.set(op.device, []);
    }
  }
  return out;
}
