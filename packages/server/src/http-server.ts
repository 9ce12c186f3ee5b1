// The daemon's HTTP listener (node:http, no framework): GET /healthz, /readyz and /metrics. Every
// request is bounded: no request body is read, only GET and HEAD are served, headers and whole
// requests time out, and connections are capped, so a scraper or a stuck client cannot pile up state.
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { RunnelError } from '@runnel/protocol';
import type { Logger } from 'pino';
import type { HealthAnswer } from './health.js';
import { splitHostPort } from './broker-role.js';

export interface HttpRoutes {
  health(): HealthAnswer;
  ready(): HealthAnswer;
  /** Prometheus text exposition; absent: /metrics is 404. */
  metrics?(): Promise<{ contentType: string; body: string }>;
}

export interface HttpListener {
  readonly port: number;
  close(): Promise<void>;
}

const REQUEST_TIMEOUT_MS = 10_000;
const HEADERS_TIMEOUT_MS = 5_000;
const KEEP_ALIVE_TIMEOUT_MS = 5_000;
const MAX_CONNECTIONS = 64;

function sendJson(res: ServerResponse, status: number, body: unknown, head: boolean): void {
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(head ? undefined : text);
}

function handle(routes: HttpRoutes, req: IncomingMessage, res: ServerResponse, logger: Logger): void {
  const head = req.method === 'HEAD';
  if (req.method !== 'GET' && !head) {
    // The body is never read; closing the connection discards it.
    res.setHeader('connection', 'close');
    res.setHeader('allow', 'GET, HEAD');
    sendJson(res, 405, { error: `method ${req.method ?? ''} not allowed` }, false);
    return;
  }
  const path = (req.url ?? '/').split('?')[0];
  switch (path) {
    case '/healthz': {
      const answer = routes.health();
      sendJson(res, answer.ok ? 200 : 503, answer.body, head);
      return;
    }
    case '/readyz': {
      const answer = routes.ready();
      sendJson(res, answer.ok ? 200 : 503, answer.body, head);
      return;
    }
    case '/metrics': {
      if (routes.metrics === undefined) break;
      routes.metrics().then(
        ({ contentType, body }) => {
          res.writeHead(200, { 'content-type': contentType, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
          res.end(head ? undefined : body);
        },
        (err: unknown) => {
          logger.warn({ err }, 'collecting metrics failed');
          sendJson(res, 500, { error: 'collecting metrics failed' }, head);
        },
      );
      return;
    }
    default:
      break;
  }
  sendJson(res, 404, { error: 'not found', paths: ['/healthz', '/readyz', ...(routes.metrics === undefined ? [] : ['/metrics'])] }, head);
}

/** Binds `address` (host:port) and serves `routes`; rejects with NETWORK_EXCEPTION when it cannot listen. */
export async function startHttpListener(address: string, routes: HttpRoutes, logger: Logger): Promise<HttpListener> {
  const server: Server = createServer({ requestTimeout: REQUEST_TIMEOUT_MS, headersTimeout: HEADERS_TIMEOUT_MS, keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS }, (req, res) => {
    try {
      handle(routes, req, res, logger);
    } catch (err) {
      logger.warn({ err, url: req.url }, 'HTTP request failed');
      if (!res.headersSent) sendJson(res, 500, { error: 'internal error' }, false);
      else res.destroy();
    }
  });
  server.maxConnections = MAX_CONNECTIONS;
  server.on('clientError', (_err, socket) => socket.destroy());
  const { host, port } = splitHostPort(address);
  await new Promise<void>((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException): void => {
      const message = error.code === 'EADDRINUSE'
        ? `cannot listen on ${address} (http.listen): address already in use; is another runnel node running on this port?`
        : `cannot listen on ${address} (http.listen): ${error.message}`;
      reject(new RunnelError('NETWORK_EXCEPTION', message, { cause: error, details: { address } }));
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  server.on('error', (err) => logger.warn({ err }, 'HTTP listener error'));
  const bound = server.address();
  let closing: Promise<void> | undefined;
  return {
    port: typeof bound === 'object' && bound !== null ? bound.port : port,
    close: () => {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Keep-alive scrapers would otherwise hold close() open until their idle timeout.
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
