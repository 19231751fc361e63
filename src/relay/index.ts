export { startRelay, type RelayOptions, type RunningRelay } from './server.js';
export { startPushGateway, type PushGatewayOptions, type RunningPushGateway, type GatewayStats } from './push-gateway.js';
export { DEFAULT_LIMITS, type RelayLimits } from './limits.js';
export { DEFAULT_NOTIFY, type NotifyOptions, type NotifyStats } from './notifications.js';
export { DEFAULT_STATUS, type StatusOptions } from './status-endpoint.js';
export { HttpPushSender, type PushSender, type PushResult } from './push-client.js';
export { runRelayCli, runPushGatewayCli } from './cli.js';
