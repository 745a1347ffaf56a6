import * as z from 'zod/mini';
import { EXCLUSION_REASONS } from './classify.js';
import { IDEMPOTENCY_KEY_HEADER, IDEMPOTENCY_KEY_PATTERN, MAX_IDEMPOTENCY_KEY_LENGTH } from './event-identity.js';
import { DEFAULT_HISTORY_DAYS, MAX_HISTORY_DAYS, type HistoryResponse } from './history.js';
import { InteractionBatchSchema, InteractionSchema, MAX_USER_ID_LENGTH } from './interaction.js';
import type { DaysSinceResponse } from './metric.js';
import { MILESTONE_MEASURES, type MilestonesResponse } from './milestones.js';
import type { Verdict } from './recording.js';
import type { SummaryResponse } from './summary.js';
import type { ForgetAnswer, UnmarkAnswer } from './users.js';

/** A route as the API exposes it; the list itself lives with the handlers and is passed in. */
export interface ApiRoute {
  method: string;
  path: string;
}

type JsonObject = Record<string, unknown>;

/** Request bodies by path: the handlers parse with these, API Gateway validates with these, the document shows these. */
export const REQUEST_BODIES: Readonly<Record<string, z.ZodMiniType>> = {
  '/metrics/interaction': InteractionSchema,
  '/metrics/interactions': InteractionBatchSchema,
};

/** Query parameters a route cannot do without, by `METHOD /path`: API Gateway refuses a request that lacks one. */
export const REQUIRED_QUERY_PARAMETERS: Readonly<Record<string, readonly string[]>> = {
  'DELETE /users': ['user_id'],
  'DELETE /internal-users': ['user_id'],
};

// Response shapes, each checked at compile time against the type the handler returns.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;

const ErrorSchema = z.object({
  error: z.string(),
  message: z.string(),
  problems: z.optional(z.array(z.object({ field: z.string(), message: z.string() }))),
});

const VerdictSchema = z.object({
  event_id: z.string(),
  status: z.enum(['recorded', 'duplicate']),
  counted: z.boolean(),
  reason: z.nullable(z.enum(EXCLUSION_REASONS)),
});
const verdictMatches: Same<z.infer<typeof VerdictSchema>, Verdict> = true;

const BatchResultSchema = z.object({
  status: z.enum(['recorded', 'duplicate']),
  recorded: z.number(),
  duplicates: z.number(),
  counted: z.number(),
  results: z.array(VerdictSchema),
});

const STATUS = z.enum(['active', 'warning', 'critical', 'no_users_yet']);

const DaysSinceSchema = z.object({
  metric: z.literal('days_since_last_real_user_interaction'),
  value: z.nullable(z.number()),
  status: STATUS,
  target: z.literal(0),
  last_interaction: z.nullable(z.string()),
  total_users: z.number(),
});
const daysSinceMatches: Same<z.infer<typeof DaysSinceSchema>, DaysSinceResponse> = true;

const SinceSchema = z.object({ days_since: z.nullable(z.number()), last_interaction: z.nullable(z.string()) });
const SummarySchema = z.object({
  generated_at: z.string(),
  days_since_last_real_interaction: z.object({ ...SinceSchema.shape, status: STATUS }),
  by_type: z.record(z.string(), z.object({ ...SinceSchema.shape, counts: z.boolean() })),
  active_users: z.object({
    dau: z.object({ value: z.number(), target: z.number(), window: z.literal('24h') }),
    wau: z.object({ value: z.number(), window: z.literal('7d') }),
    mau: z.object({ value: z.number(), target: z.number(), window: z.literal('30d') }),
  }),
  total_users: z.number(),
  excluded: z.object({
    last: z.nullable(
      z.object({
        event_id: z.string(),
        interaction_type: z.string(),
        occurred_at: z.string(),
        days_since: z.number(),
        reason: z.enum(EXCLUSION_REASONS),
      }),
    ),
    last_7_days: z.object({
      internal_user: z.number(),
      test_traffic: z.number(),
      automated_client: z.number(),
      not_engagement: z.number(),
    }),
  }),
});
const summaryMatches: Same<z.infer<typeof SummarySchema>, SummaryResponse> = true;

const MilestonesSchema = z.object({
  generated_at: z.string(),
  milestones: z.array(
    z.object({
      name: z.string(),
      target_date: z.string(),
      measure: z.enum(MILESTONE_MEASURES),
      target: z.number(),
      current: z.number(),
      reached_on: z.nullable(z.string()),
      reached_at: z.nullable(z.string()),
      on_time: z.nullable(z.boolean()),
      status: z.enum(['achieved', 'on_track', 'missed']),
    }),
  ),
});
const milestonesMatch: Same<z.infer<typeof MilestonesSchema>, MilestonesResponse> = true;

const HistorySchema = z.object({
  generated_at: z.string(),
  days: z.number(),
  from: z.string(),
  to: z.string(),
  history: z.array(
    z.object({
      day: z.string(),
      active_users: z.number(),
      new_users: z.number(),
      days_since_at_end_of_day: z.nullable(z.number()),
    }),
  ),
});
const historyMatches: Same<z.infer<typeof HistorySchema>, HistoryResponse> = true;

const HealthSchema = z.object({ status: z.literal('ok') });

const ForgetSchema = z.object({ user_id: z.string(), status: z.literal('forgotten'), interactions: z.number() });
const forgetMatches: Same<z.infer<typeof ForgetSchema>, ForgetAnswer> = true;
const UnmarkSchema = z.object({ user_id: z.string(), status: z.literal('unmarked'), interactions: z.number(), internal: z.boolean() });
const unmarkMatches: Same<z.infer<typeof UnmarkSchema>, UnmarkAnswer> = true;

void [verdictMatches, daysSinceMatches, summaryMatches, milestonesMatch, historyMatches, forgetMatches, unmarkMatches];

const openApiSchema = (schema: z.ZodMiniType): JsonObject => {
  const { $schema: _, ...rest } = z.toJSONSchema(schema, { target: 'openapi-3.0', io: 'input', unrepresentable: 'any' }) as JsonObject;
  return rest;
};

const json = (description: string, schema: z.ZodMiniType) => ({
  description,
  content: { 'application/json': { schema: openApiSchema(schema) } },
});

const refused = (description: string) => json(description, ErrorSchema);

// What API Gateway answers before a handler runs: a missing key, too many requests.
const GATEWAY_REFUSALS = {
  '403': refused('Missing or unknown x-api-key'),
  '429': refused('Too many requests for this API key (usage plan throttle)'),
};

const RECORDING_REFUSALS = {
  ...GATEWAY_REFUSALS,
  '400': refused('The body is not valid JSON, it or the Idempotency-Key header breaks a rule; `problems` names each field'),
  '413': refused('The body is too large'),
  '415': refused('content-type is not application/json'),
  '503': refused('The database is resuming from a pause; retry after the Retry-After header'),
};

/** The header that makes a retry safe for items sent without an event_id (functions/core/event-identity.ts). */
export const IDEMPOTENCY_KEY_PARAMETER = {
  name: IDEMPOTENCY_KEY_HEADER,
  in: 'header',
  required: false,
  description:
    'Makes a retry of this request count once, items without an event_id included: each is stored under an id made ' +
    'from the key (and its place in a batch). Send the same key with the same body when retrying, a new key for a new request.',
  schema: { type: 'string', minLength: 1, maxLength: MAX_IDEMPOTENCY_KEY_LENGTH, pattern: IDEMPOTENCY_KEY_PATTERN.source },
};

/** What makes a retried report count once, in the words of the API reference (docs/api.md). */
const RETRY_RULE =
  'A retry never counts twice when each interaction has an event_id, the request an Idempotency-Key, or the interaction an ' +
  'occurred_at (its content is then its identity). With none of these the server makes up an event_id, and a retry counts again.';

const USER_ID_PARAMETER = {
  name: 'user_id',
  in: 'query',
  required: true,
  description: 'The user, as your product sent it in user_id (percent-encoded)',
  schema: { type: 'string', minLength: 1, maxLength: MAX_USER_ID_LENGTH },
};

interface Operation {
  summary: string;
  description?: string;
  parameters?: JsonObject[];
  responses: JsonObject;
}

const OPERATIONS: Readonly<Record<string, Operation>> = {
  'POST /metrics/interaction': {
    summary: 'Report one interaction',
    description: `A repeat answers 200 with status "duplicate" and changes nothing. ${RETRY_RULE}`,
    parameters: [IDEMPOTENCY_KEY_PARAMETER],
    responses: {
      '202': json('Recorded, with whether it counts and, if not, why', VerdictSchema),
      '200': json('Already recorded under this event_id: nothing changed', VerdictSchema),
      ...RECORDING_REFUSALS,
    },
  },
  'POST /metrics/interactions': {
    summary: 'Report up to 500 interactions at once',
    description: `One statement for the whole batch; each item gets its own verdict, in order. ${RETRY_RULE}`,
    parameters: [IDEMPOTENCY_KEY_PARAMETER],
    responses: {
      '202': json('At least one interaction was recorded', BatchResultSchema),
      '200': json('Every interaction was already recorded', BatchResultSchema),
      ...RECORDING_REFUSALS,
    },
  },
  'GET /metrics/days-since-last-interaction': {
    summary: 'Days since a real user last did something',
    responses: { '200': json('The headline number and its status band', DaysSinceSchema), ...GATEWAY_REFUSALS },
  },
  'GET /metrics/summary': {
    summary: 'The headline with active users, per-type figures and what did not count',
    responses: { '200': json('The current state', SummarySchema), ...GATEWAY_REFUSALS },
  },
  'GET /metrics/milestones': {
    summary: 'Progress towards each milestone target',
    responses: { '200': json('Every milestone with its current value and status', MilestonesSchema), ...GATEWAY_REFUSALS },
  },
  'GET /metrics/history': {
    summary: 'One row per UTC day: active and new real users, and the headline number at the end of the day',
    parameters: [
      {
        name: 'days',
        in: 'query',
        required: false,
        description: `How many days back, today included (default ${DEFAULT_HISTORY_DAYS})`,
        schema: { type: 'integer', minimum: 1, maximum: MAX_HISTORY_DAYS, default: DEFAULT_HISTORY_DAYS },
      },
    ],
    responses: {
      '200': json('Every day of the window, oldest first, quiet days included', HistorySchema),
      '400': refused('days is not a whole number in range'),
      ...GATEWAY_REFUSALS,
    },
  },
  'DELETE /users': {
    summary: 'Forget a user: their interactions, and their share of every figure',
    description:
      'Deletes every interaction of the user and everything derived from them; every read afterwards is as if they had never ' +
      'reported anything. Safe to repeat: a user who is not known answers 200 with interactions 0.',
    parameters: [USER_ID_PARAMETER],
    responses: {
      '200': json('The user is forgotten; interactions says how many were deleted', ForgetSchema),
      '400': refused('user_id is missing or not a user id'),
      '503': refused('The database is resuming from a pause; retry after the Retry-After header'),
      ...GATEWAY_REFUSALS,
    },
  },
  'DELETE /internal-users': {
    summary: 'Take back context.internal: true for a user, so their real interactions count again',
    description:
      'Clears the mark that any interaction with context.internal: true left on the user; every figure follows at once. ' +
      'INTERNAL_USER_IDS and INTERNAL_EMAIL_DOMAINS still apply: internal says whether they still name the user.',
    parameters: [USER_ID_PARAMETER],
    responses: {
      '200': json('The mark is gone; interactions says how many carried it', UnmarkSchema),
      '400': refused('user_id is missing or not a user id'),
      '404': refused('No interaction was ever recorded for this user_id'),
      '503': refused('The database is resuming from a pause; retry after the Retry-After header'),
      ...GATEWAY_REFUSALS,
    },
  },
  'GET /healthz': {
    summary: 'Liveness; never wakes the database',
    responses: { '200': json('The service is up', HealthSchema), ...GATEWAY_REFUSALS },
  },
};

/** The OpenAPI 3.0 document of the API, built from the same schemas the handlers parse with. */
export function openApiDocument(routes: readonly ApiRoute[], version = '1.0.0'): JsonObject {
  const paths: Record<string, JsonObject> = {};
  for (const route of routes) {
    const operation = OPERATIONS[`${route.method} ${route.path}`];
    if (!operation) throw new Error(`${route.method} ${route.path} has no OpenAPI description in functions/core/openapi.ts`);
    const body = REQUEST_BODIES[route.path];
    paths[route.path] = {
      ...paths[route.path],
      [route.method.toLowerCase()]: {
        ...operation,
        ...(route.method === 'POST' && body
          ? { requestBody: { required: true, content: { 'application/json': { schema: openApiSchema(body) } } } }
          : {}),
      },
    };
  }
  return {
    openapi: '3.0.3',
    info: {
      title: 'days-since',
      version,
      description: 'How many days since a real user last did something. Product backends report interactions; every call needs an x-api-key header.',
    },
    security: [{ apiKey: [] }],
    components: { securitySchemes: { apiKey: { type: 'apiKey', in: 'header', name: 'x-api-key' } } },
    paths,
  };
}

/** Drops `format`: API Gateway's validator has its own reading of formats, while `pattern` carries zod's exact rule. */
function withoutFormats(schema: unknown, keysAreNames = false): unknown {
  if (Array.isArray(schema)) return schema.map((item) => withoutFormats(item));
  if (schema === null || typeof schema !== 'object') return schema;
  return Object.fromEntries(
    Object.entries(schema)
      .filter(([key]) => keysAreNames || key !== 'format')
      .map(([key, value]) => [key, withoutFormats(value, !keysAreNames && (key === 'properties' || key === 'patternProperties'))]),
  );
}

/** The JSON Schema (draft-04, the only draft API Gateway models accept) of the body a POST path takes. */
export function requestModelSchema(path: string): JsonObject {
  const body = REQUEST_BODIES[path];
  if (!body) throw new Error(`${path} takes no request body`);
  return withoutFormats(z.toJSONSchema(body, { target: 'draft-04', io: 'input', unrepresentable: 'any' })) as JsonObject;
}
