import { errorResult, jsonResult, RequestError, type ApiEvent, type ApiHandler, type ApiResult, type ErrorLog } from './http.js';

/** Every route of the API and the Lambda (route family) that answers it: read by the local server, the stack and the OpenAPI document. */
export const ROUTES = [
  { method: 'POST', path: '/metrics/interaction', family: 'ingest' },
  { method: 'POST', path: '/metrics/interactions', family: 'ingest' },
  { method: 'GET', path: '/metrics/days-since-last-interaction', family: 'metrics' },
  { method: 'GET', path: '/metrics/summary', family: 'metrics' },
  { method: 'GET', path: '/metrics/milestones', family: 'metrics' },
  { method: 'GET', path: '/metrics/history', family: 'metrics' },
  { method: 'DELETE', path: '/users', family: 'users' },
  { method: 'DELETE', path: '/internal-users', family: 'users' },
  { method: 'GET', path: '/healthz', family: 'health' },
] as const;

export type Route = (typeof ROUTES)[number];
export type RouteFamily = Route['family'];

/** The methods a path takes: HEAD wherever GET is, as HTTP asks of every server (RFC 9110, section 9.3.2). */
export function allowedMethods(declared: readonly string[]): string[] {
  return declared.flatMap((method) => (method === 'GET' ? ['GET', 'HEAD'] : [method]));
}

/** 405 with the methods the path does take in Allow, or null when `method` is one of them. */
export function refuseMethod(method: string, declared: readonly string[]): ApiResult | null {
  const allowed = allowedMethods(declared);
  if (allowed.includes(method)) return null;
  const allow = allowed.join(', ');
  return jsonResult(405, { error: 'method_not_allowed', message: `${method} is not allowed here: use ${allow}` }, { allow });
}

/**
 * A known path asked with a method it does not take: 405 with Allow. Null when the method is right or the path is not
 * a route. API Gateway forwards such requests (its ANY method) to the family's Lambda.
 */
export function methodNotAllowed(method: string, path: string): ApiResult | null {
  const declared: string[] = ROUTES.filter((route) => route.path === path).map((route) => route.method);
  return declared.length === 0 ? null : refuseMethod(method, declared);
}

/**
 * A route family's Lambda from its routes by path: 404 for a path it does not serve, 405 for a wrong method, otherwise the
 * route's answer as 200 JSON; a thrown error becomes its answer through errorResult.
 */
export function familyHandler(routes: Readonly<Record<string, (event: ApiEvent) => Promise<unknown>>>, log: ErrorLog): ApiHandler {
  return async (event) => {
    try {
      const route = routes[event.path];
      if (!route) throw new RequestError(404, 'not_found', `no route for ${event.path}`);
      return methodNotAllowed(event.httpMethod, event.path) ?? jsonResult(200, await route(event));
    } catch (error) {
      return errorResult(error, log);
    }
  };
}
