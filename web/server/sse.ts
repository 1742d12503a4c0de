/**
 * Server-Sent Events to one follower of the live fleet. A slow reader is not allowed to make
 * the server buffer without bound: a follower whose socket still holds more than `MAX_BUFFERED`
 * bytes is dropped, and its browser reconnects and starts again from a snapshot.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { LiveFleet } from './live.js';

const MAX_BUFFERED = 8 * 1024 * 1024;
/** A comment line every 15 s keeps proxies from closing a quiet stream. */
const KEEPALIVE_MS = 15_000;

export function openEventStream(live: LiveFleet, req: IncomingMessage, res: ServerResponse): void {
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-store',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  // Reconnect after 2 s when the stream drops (the browser's EventSource does it by itself).
  res.write('retry: 2000\n\n');
  let closed = false;
  const close = (drop = false) => {
    if (closed) return;
    closed = true;
    clearInterval(keepalive);
    unfollow();
    // A reader too slow to take its queue would hold it as long as its socket lives.
    if (drop) res.destroy();
    else res.end();
  };
  const unfollow = live.follow({
    send(event, data) {
      if (closed) return;
      if (res.writableLength > MAX_BUFFERED) return close(true);
      res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    },
  });
  const keepalive = setInterval(() => res.write(': keepalive\n\n'), KEEPALIVE_MS);
  req.on('close', () => close());
  res.on('error', () => close(true));
}
