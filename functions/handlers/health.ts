import type { ApiHandler } from './http.js';
import { jsonResult } from './http.js';
import { methodNotAllowed } from './routes.js';

/** Why the service cannot serve now, as /healthz tells it: its state, what happened, when to ask again. */
export interface NotReady {
  status: 'starting' | 'unavailable' | 'stopping';
  message: string;
  retryAfterSeconds: number;
}

/**
 * GET /healthz. With `readiness` (the local server: a cheap probe of its database), 200 only while the database
 * answers, else 503 with what is wrong. Without it (AWS): liveness only, since a probe would wake a paused Aurora every
 * time a load balancer or a person checks.
 */
export function createHealthHandler(readiness?: () => Promise<NotReady | null>): ApiHandler {
  return async (event) => {
    const refusal = methodNotAllowed(event.httpMethod, event.path);
    if (refusal) return refusal;
    const notReady = (await readiness?.()) ?? null;
    if (!notReady) return jsonResult(200, { status: 'ok' });
    return jsonResult(503, { status: notReady.status, message: notReady.message }, { 'retry-after': String(notReady.retryAfterSeconds) });
  };
}

export const handler: ApiHandler = createHealthHandler();
