// grpc-js creates its HTTP/2 server with http2.createServer(options) and never disables Nagle's
// algorithm on the sockets it accepts (its client side does). With Nagle on, a small answer written
// while an earlier segment is still unacknowledged waits for the peer's delayed ACK — 40 ms on
// Linux — which showed up as a ~40-60 ms p99 on acks=all produces (answers and follower fetch
// responses are small). Node's net.Server takes `noDelay` since v17.7, and http2.createServer
// passes its options on to it, so defaulting that option is enough. grpc-js offers no hook for it,
// hence this one-time, idempotent wrapper around http2.createServer for the whole process.
import http2 from 'node:http2';

let installed = false;

/** Makes every HTTP/2 server created from now on accept sockets with TCP_NODELAY. */
export function enableServerNoDelay(): void {
  if (installed) return;
  installed = true;
  const original = http2.createServer;
  const withNoDelay = ((options?: http2.ServerOptions, listener?: (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void) => {
    const merged = { noDelay: true, ...(options ?? {}) } as http2.ServerOptions;
    return listener === undefined ? original(merged) : original(merged, listener);
  }) as typeof http2.createServer;
  http2.createServer = withNoDelay;
}
