import { jsonResult, type ApiResult } from './http.js';

/** Every route of the API and the Lambda (route family) that answers it: read by the local server, the stack and the OpenAPI document. */
export const ROUTES = [
  { method: 'POST', path: '/metrics/interaction', family: 'ingest' },
  { method: 'POST', path: '/metrics/interactions', family: 'ingest' },
  { method: 'GET', path: '/metrics/days-since-last-interaction', family: 'metrics' },
  { method: 'GET', path: '/metrics/summary', family: 'metrics' },
  { method: 'GET', path: '/metrics/milestones', family: 'metrics' },
  { method: 'GET', path: '/metrics/history', family: 'metrics' },
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
