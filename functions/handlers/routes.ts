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

/**
 * A known path asked with a method it does not take: 405 with the methods it does take in Allow, as HTTP asks.
 * Null when the method is right or the path is not a route. API Gateway forwards such requests to the family's Lambda.
 */
export function methodNotAllowed(method: string, path: string): ApiResult | null {
  const allowed: string[] = ROUTES.filter((route) => route.path === path).map((route) => route.method);
  if (allowed.length === 0 || allowed.includes(method)) return null;
  const allow = allowed.join(', ');
  return jsonResult(405, { error: 'method_not_allowed', message: `${method} is not allowed here: use ${allow}` }, { allow });
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
