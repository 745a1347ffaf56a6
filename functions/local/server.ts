import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { jsonResult, type ApiEvent, type ApiHandler, type ApiResult } from '../handlers/http.js';
import { methodNotAllowed, ROUTES, type RouteFamily } from '../handlers/routes.js';

export interface LocalServerOptions {
  handlers: Record<RouteFamily, ApiHandler>;
  /** When set, every route but /healthz needs a matching x-api-key header, as API Gateway would demand. */
  apiKey?: string | undefined;
  /** Bodies larger than this are refused before they are read in full. */
  maxBodyBytes?: number;
  /** GET routes that exist only locally (the status page, the OpenAPI document), by path. Open like /healthz. */
  localPages?: Record<string, () => Promise<ApiResult>>;
}

const OPEN_PATHS = new Set(['/healthz']);

function sameKey(given: string | undefined, expected: string): boolean {
  if (given === undefined) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

async function readBody(request: IncomingMessage, limit: number): Promise<Buffer | 'too_large'> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    // Keep counting but stop keeping: the client gets its 413 after sending, not a reset connection.
    if (size <= limit) chunks.push(chunk as Buffer);
  }
  return size > limit ? 'too_large' : Buffer.concat(chunks);
}

function send(response: ServerResponse, result: ApiResult): void {
  response.writeHead(result.statusCode, result.headers as Record<string, string>);
  response.end(result.body);
}

/** The same Lambda handlers, behind a plain node HTTP server: what API Gateway does, minus the cloud. */
export function createLocalServer(options: LocalServerOptions): Server {
  const maxBodyBytes = options.maxBodyBytes ?? 1024 * 1024;
  return createServer(async (request, response) => {
    try {
      const url = new URL(request.url ?? '/', 'http://localhost');
      const page = options.localPages?.[url.pathname];
      if (page && (request.method === 'GET' || request.method === 'HEAD')) return send(response, await page());
      const routes = ROUTES.filter((route) => route.path === url.pathname);
      if (routes.length === 0) {
        return send(response, jsonResult(404, { error: 'not_found', message: `no route for ${url.pathname}` }));
      }
      const refusal = methodNotAllowed(request.method ?? '', url.pathname);
      if (refusal) return send(response, refusal);
      const route = routes.find((candidate) => candidate.method === request.method)!;
      if (options.apiKey && !OPEN_PATHS.has(route.path) && !sameKey(header(request, 'x-api-key'), options.apiKey)) {
        return send(response, jsonResult(403, { error: 'forbidden', message: 'a valid x-api-key header is required' }));
      }
      const body = await readBody(request, maxBodyBytes);
      if (body === 'too_large') {
        return send(response, jsonResult(413, { error: 'payload_too_large', message: `the body must be at most ${maxBodyBytes} bytes` }));
      }
      const event: ApiEvent = {
        httpMethod: route.method,
        path: route.path,
        headers: Object.fromEntries(Object.entries(request.headers).map(([key, value]) => [key, String(value)])),
        queryStringParameters: url.searchParams.size > 0 ? Object.fromEntries(url.searchParams) : null,
        body: body.length > 0 ? body.toString('utf8') : null,
        isBase64Encoded: false,
      };
      send(response, await options.handlers[route.family](event));
    } catch {
      send(response, jsonResult(500, { error: 'internal_error', message: 'something went wrong on our side' }));
    }
  });
}

function header(request: IncomingMessage, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}
