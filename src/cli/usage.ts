/**
 * The product commands' usage texts, apart from the commands themselves so that `--help`
 * and the top-level dispatch load none of the relay, the store or the sessions.
 */
import { tmpdir } from 'node:os';

export const RELAY_USAGE = `usage: nsekit relay --db PATH [--port N] [--host 127.0.0.1] [--push-gateway URL | --with-gateway]
                    [--coalesce-ms 2000] [--bundle-max 6] [--skew-ms 300000]
                    [--max-connections 1024] [--max-connections-per-address 256]
                    [--rate-per-sec 500] [--rate-burst 1000] [--rate-close-after 100] [--rate-close-window-ms 10000]
                    [--handshake-timeout-ms 10000] [--idle-timeout-ms 60000] [--frame-timeout-ms 30000]
                    [--close-timeout-ms 5000] [--max-replay-entries 100000] [--max-replay-entries-per-queue 256]
  runs the relay (ws + signed status endpoint) until SIGINT/SIGTERM; --port 0 (default) picks a free port
  limits and timeouts: docs/protocol.md "Limits and defaults" (timeouts 0 = off)`;

export const PUSH_GATEWAY_USAGE = `usage: nsekit push-gateway [--port N] [--host 127.0.0.1] [--background-per-hour 3]
  runs the simulated APNs (POST /register, /push, /invalidate) until SIGINT/SIGTERM`;

export const QUEUE_USAGE = `usage: nsekit queue create --relay ws://HOST:PORT/ [--out proc.json] [--shared-dir DIR] [--queues 1] [--mode instant|lowPower] [--force]
  creates queues on a running relay (nsekit relay) and writes the config file nsekit app and nse run with:
  each queue with its recipient and sender credentials and fresh end-to-end and status keys.
  --out         where to write it (default proc.json; - for stdout); an existing file is kept unless --force
  --shared-dir  the app group directory both processes share (default a new directory under ${tmpdir()})`;
