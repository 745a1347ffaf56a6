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
