import type { ApiHandler } from './http.js';
import { jsonResult } from './http.js';
import { methodNotAllowed } from './routes.js';

/** Liveness only: it must not wake a paused Aurora every time a load balancer or a person checks. */
export const handler: ApiHandler = async (event) => methodNotAllowed(event.httpMethod, event.path) ?? jsonResult(200, { status: 'ok' });
