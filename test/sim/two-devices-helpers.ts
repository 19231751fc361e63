/** Reading and planting in a two-device history (test/sim/two-devices-*.test.ts). */
import type { History, Op } from '../../sim/history/index.js';

export interface DeviceDelivery {
  device: number;
  /** Labels sent to this device whose copy is in its final store exactly once, sorted. */
  labels: string[];
  /** This device's relay msgIds of what was sent to it. */
  msgIds: string[];
  /** Sent to it, not in its final store. */
  missing: string[];
  /** In its final store more than once. */
  twice: string[];
}

/** Per device: what the senders sent to it (its `sender send` ok ops) against its final store snapshot. */
export function deliveredOncePerDevice(h: History): DeviceDelivery[] {
  const devices = [...new Set(h.filter((o) => o.device !== undefined).map((o) => o.device!))].sort();
  return devices.map((device) => {
    const sent = h.filter((o) => o.device === device && o.proc === 'sender' && o.f === 'send' && o.type === 'ok');
    const snap = [...h].reverse().find((o) => o.device === device && o.f === 'store.snapshot' && o.type === 'ok')!;
    const rows: string[] = snap.value.msgIds;
    const count = (id: string) => rows.filter((x) => x === id).length;
    return {
      device,
      labels: sent.filter((o) => count(o.value.msgId) === 1).map((o) => o.value.label as string).sort(),
      msgIds: sent.map((o) => o.value.msgId as string),
      missing: sent.filter((o) => count(o.value.msgId) === 0).map((o) => o.value.label as string),
      twice: sent.filter((o) => count(o.value.msgId) > 1).map((o) => o.value.label as string),
    };
  });
}

function lastSnapshot(h: History, device: number): Op {
  return [...h].reverse().find((o) => o.device === device && o.f === 'store.snapshot' && o.type === 'ok')!;
}

/** A copy of the history whose device-`d` final store holds its first message twice (a second row). */
export function plantDuplicate(h: History, device: number): Op[] {
  const snap = lastSnapshot(h, device);
  return h.map((o) => (o === snap ? { ...o, value: { ...o.value, msgIds: [...o.value.msgIds, o.value.msgIds[0]] } } : { ...o }));
}

/** A copy of the history whose device-`d` final store lacks a message it ACKed. */
export function plantLoss(h: History, device: number): { history: Op[]; msgId: string } {
  const snap = lastSnapshot(h, device);
  const acked = h.find((o) => o.device === device && o.proc === 'relay' && o.f === 'ack' && o.type === 'ok')!;
  const msgId = acked.value.msgId as string;
  const history = h.map((o) => (o === snap ? { ...o, value: { ...o.value, msgIds: o.value.msgIds.filter((x: string) => x !== msgId) } } : { ...o }));
  return { history, msgId };
}
