/**
 * The sender side of a silent push (docs/processes.md "Background windows"): ask the push gateway
 * for a `content-available` push (`type: background`); when APNs throttles it (HTTP 429) send a
 * visible push instead — with the notifier ids the NSE needs — so the message is not silently
 * dropped. Who sends silent pushes is the application server's choice; the relay only sends alerts.
 */
export type SilentOutcome = 'silent' | 'fallback' | 'invalid' | 'retry';

export async function pushSilentOrVisible(
  gatewayUrl: string,
  token: string,
  payload: Record<string, unknown>,
  visible: Record<string, unknown>,
  timeoutMs = 10_000,
): Promise<SilentOutcome> {
  const post = async (type: 'background' | 'alert', body: Record<string, unknown>): Promise<number> => {
    try {
      const res = await fetch(`${gatewayUrl.replace(/\/$/, '')}/push`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ token, type, payload: body }),
        signal: AbortSignal.timeout(timeoutMs),
      });
      await res.arrayBuffer().catch(() => undefined);
      return res.status;
    } catch {
      return 0;
    }
  };
  const status = await post('background', payload);
  if (status >= 200 && status < 300) return 'silent';
  if (status === 400 || status === 410) return 'invalid';
  if (status !== 429) return 'retry';
  const v = await post('alert', visible);
  if (v >= 200 && v < 300) return 'fallback';
  return v === 400 || v === 410 ? 'invalid' : 'retry';
}
