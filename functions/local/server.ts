import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { jsonResult, type ApiEvent, type ApiHandler, type ApiResult } from '../handlers/http.js';
import { methodNotAllowed, refuseMethod, ROUTES, type RouteFamily } from '../handlers/routes.js';

/** A GET route that exists only locally: the status page, its assets, the OpenAPI document. */
export interface LocalPage {
  read(): Promise<ApiResult>;
  /** Served without the API key: the status page and its assets, which must load before the page can ask for it. */
  open?: boolean;
}

export interface LocalServerOptions {
  handlers: Record<RouteFamily, ApiHandler>;
  /** When set, every route but /healthz and the open pages needs a matching x-api-key header, as API Gateway would demand. */
  apiKey?: string | undefined;
  /** Bodies larger than this are refused before they are read in full. */
  maxBodyBytes?: number;
  /** Local pages, by path. */
  localPages?: Record<string, LocalPage>;
}

const OPEN_PATHS = new Set(['/healthz']);
const FORBIDDEN = () => jsonResult(403, { error: 'forbidden', message: 'a valid x-api-key header is required' });

function sameKey(given: string | undefined, expected: string): boolean {
  if (given === undefined) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * The body, or 'too_large' as soon as it passes the limit: the rest is never read, and the caller answers 413
 * and closes the connection, so no client can keep the server reading (an endless chunked body, say).
 */
async function readBody(request: IncomingMessage, limit: number): Promise<Buffer | 'too_large'> {
  if (Number(request.headers['content-length'] ?? 0) > limit) return 'too_large';
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > limit) return 'too_large';
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Text when the bytes are UTF-8; otherwise base64, as API Gateway hands a binary body, so the handler refuses it rather than reading U+FFFD. */
function bodyOf(bytes: Buffer): Pick<ApiEvent, 'body' | 'isBase64Encoded'> {
  if (bytes.length === 0) return { body: null, isBase64Encoded: false };
  try {
    return { body: utf8.decode(bytes), isBase64Encoded: false };
  } catch {
    return { body: bytes.toString('base64'), isBase64Encoded: true };
  }
}

function send(response: ServerResponse, result: ApiResult): void {
  response.writeHead(result.statusCode, result.headers as Record<string, string>);
  response.end(result.body);
}

/** Requests being answered, per server, so a stop can wait for them. */
interface InFlight {
  requests: number;
  closing: boolean;
  whenNone: Array<() => void>;
}
const inFlight = new WeakMap<Server, InFlight>();

/** The same Lambda handlers, behind a plain node HTTP server: what API Gateway does, minus the cloud. */
export function createLocalServer(options: LocalServerOptions): Server {
  const maxBodyBytes = options.maxBodyBytes ?? 1024 * 1024;
  const state: InFlight = { requests: 0, closing: false, whenNone: [] };
  const server = createServer(async (request, response) => {
    state.requests++;
    response.once('close', () => {
      if (--state.requests === 0) state.whenNone.splice(0).forEach((resolve) => resolve());
    });
    // While stopping, a request on a kept-alive connection is still answered, and its connection then ends.
    if (state.closing) response.setHeader('connection', 'close');
    try {
      const url = new URL(request.url ?? '/', 'http://localhost');
      const method = request.method ?? '';
      const keyed = (open: boolean) => !open && options.apiKey !== undefined && !sameKey(header(request, 'x-api-key'), options.apiKey);
      const page = options.localPages?.[url.pathname];
      if (page) {
        const refusal = refuseMethod(method, ['GET']);
        if (refusal) return send(response, refusal);
        return send(response, keyed(page.open ?? false) ? FORBIDDEN() : await page.read());
      }
      const routes = ROUTES.filter((route) => route.path === url.pathname);
      if (routes.length === 0) {
        return send(response, jsonResult(404, { error: 'not_found', message: `no route for ${url.pathname}` }));
      }
      const refusal = methodNotAllowed(method, url.pathname);
      if (refusal) return send(response, refusal);
      // HEAD is answered as GET is; node leaves the body out.
      const route = routes.find((candidate) => candidate.method === (method === 'HEAD' ? 'GET' : method))!;
      if (keyed(OPEN_PATHS.has(route.path))) return send(response, FORBIDDEN());
      const body = await readBody(request, maxBodyBytes);
      if (body === 'too_large') {
        // Connection: close makes node end the socket once the 413 is out, instead of draining the rest of the body.
        const tooLarge = jsonResult(413, { error: 'payload_too_large', message: `the body must be at most ${maxBodyBytes} bytes` });
        return send(response, { ...tooLarge, headers: { ...tooLarge.headers, connection: 'close' } });
      }
      const event: ApiEvent = {
        httpMethod: method,
        path: route.path,
        headers: Object.fromEntries(Object.entries(request.headers).map(([key, value]) => [key, String(value)])),
        queryStringParameters: url.searchParams.size > 0 ? Object.fromEntries(url.searchParams) : null,
        ...bodyOf(body),
      };
      send(response, await options.handlers[route.family](event));
    } catch {
      send(response, jsonResult(500, { error: 'internal_error', message: 'something went wrong on our side' }));
    }
  });
  inFlight.set(server, state);
  return server;
}

/** Resolves once a server made by createLocalServer has no request in flight, or after graceMs. */
export async function noRequestsInFlight(server: Server, graceMs: number): Promise<void> {
  const state = inFlight.get(server);
  if (!state || state.requests === 0) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    new Promise<void>((resolve) => state.whenNone.push(resolve)),
    new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs))),
  ]);
  clearTimeout(timer);
}

/**
 * Stops a server made by createLocalServer: no new connections, requests already received are answered
 * (for up to graceMs), then every connection is closed.
 */
export async function closeLocalServer(server: Server, graceMs = 10_000): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  const state = inFlight.get(server);
  if (state) state.closing = true;
  await noRequestsInFlight(server, graceMs);
  server.closeIdleConnections();
  server.closeAllConnections();
  await closed;
}

function header(request: IncomingMessage, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}
