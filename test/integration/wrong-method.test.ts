import { describe, expect, it } from 'vitest';
import { handler as health } from '../../functions/handlers/health.js';
import type { ApiEvent, ApiHandler } from '../../functions/handlers/http.js';
import { createIngestHandler } from '../../functions/handlers/ingest.js';
import { createMetricsHandler } from '../../functions/handlers/metrics.js';
import { ROUTES, type RouteFamily } from '../../functions/handlers/routes.js';
import { createUsersHandler } from '../../functions/handlers/users.js';
import type { Database } from '../../functions/db/port.js';
import { testDeps } from '../support/harness.js';

// A 405 is decided from the route table alone: any query would fail the test (and no engine needs booting).
const refused = () => Promise.reject(new Error('a wrong method must be answered without the database'));
const db: Database = { query: refused, transaction: refused, close: async () => {} };

describe('a wrong method on a known path', () => {
  it('is answered by each route family Lambda with 405, JSON and Allow, as API Gateway\'s ANY method forwards it', async () => {
    const deps = testDeps(db);
    const handlers: Record<RouteFamily, ApiHandler> = { ingest: createIngestHandler(deps), metrics: createMetricsHandler(deps), users: createUsersHandler(deps), health };
    for (const route of ROUTES) {
      for (const method of ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'].filter((other) => other !== route.method)) {
        const event: ApiEvent = { httpMethod: method, path: route.path, headers: {}, body: null, isBase64Encoded: false, queryStringParameters: null };
        const result = await handlers[route.family](event);
        expect({ route: `${method} ${route.path}`, status: result.statusCode, allow: result.headers?.allow, body: JSON.parse(result.body) }).toEqual({
          route: `${method} ${route.path}`,
          status: 405,
          allow: route.method,
          body: { error: 'method_not_allowed', message: `${method} is not allowed here: use ${route.method}` },
        });
      }
    }
  });
});
