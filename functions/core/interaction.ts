import * as z from 'zod/mini';

import { INTERACTION_TYPE } from './interaction-types.js';

export { DEFAULT_COUNTING_TYPES, INTERACTION_TYPE, PAYMENT_TYPE } from './interaction-types.js';

const INTERACTION_TYPE_RULE = 'must be 1 to 50 characters from a-z, 0-9 and _ . : - (e.g. report_viewed)';

export const MAX_USER_ID_LENGTH = 128;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The id a user is stored under. Ids are case-sensitive ("Ana" and "ana" are two users), except UUID-shaped ones,
 * lower-cased as they always were (the column was a uuid): the same UUID in either case stays one user.
 */
export const storedUserId = (id: string): string => (UUID.test(id) ? id.toLowerCase() : id);

const codePoints = (text: string): number => [...text].length;
// C0 and C1 controls and DEL: no product's id holds them, and a log or a terminal would mangle them.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** What a user id may be: any text of 1 to 128 characters (Unicode code points), as the product names its users. */
export const UserIdSchema = z.string({ error: 'must be text' }).check(
  z.refine((id) => id.length > 0, { error: 'must not be empty', abort: true }),
  z.refine((id) => codePoints(id) <= MAX_USER_ID_LENGTH, { error: `must be at most ${MAX_USER_ID_LENGTH} characters` }),
  // " 42" and "42" would be two users for one person: almost always a caller's slip, so refused rather than guessed at.
  z.refine((id) => id.trim() === id, { error: 'must not start or end with whitespace' }),
  z.refine((id) => !CONTROL.test(id), { error: 'must not contain control characters' }),
  // U+FFFD is what undecodable bytes become on the way in: two different ids could become one.
  z.refine((id) => !id.includes('\uFFFD'), { error: 'must not contain U+FFFD, the mark left by bytes that were not UTF-8' }),
);
// The request models and the OpenAPI document: JSON Schema counts code points, as the refinements do.
UserIdSchema.register(z.globalRegistry, { type: 'string', minLength: 1, maxLength: MAX_USER_ID_LENGTH });

export const InteractionTypeSchema = z.string({ error: INTERACTION_TYPE_RULE }).check(z.regex(INTERACTION_TYPE, { error: INTERACTION_TYPE_RULE }));

export const MAX_METADATA_BYTES = 8 * 1024;
export const MAX_BATCH_SIZE = 500;
export const MAX_FUTURE_SKEW_MS = 5 * 60 * 1000;

/** Nesting allowed in metadata, counted from metadata itself: `{"a":{"b":1}}` is 2 levels, on either route. */
export const MAX_METADATA_DEPTH = 32;

const isJsonObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Whether objects and arrays nest no deeper than `limit`, counting `value` itself; iterative, so depth cannot overflow the stack. */
function nestsAtMost(value: unknown, limit: number): boolean {
  const pending: Array<[unknown, number]> = [[value, 1]];
  while (pending.length > 0) {
    const [item, depth] = pending.pop()!;
    if (item === null || typeof item !== 'object') continue;
    if (depth > limit) return false;
    for (const child of Object.values(item)) pending.push([child, depth + 1]);
  }
  return true;
}

const jsonBytes = (value: unknown): number => Buffer.byteLength(JSON.stringify(value) ?? '', 'utf8');

/**
 * Any JSON object, kept as sent. A custom schema rather than z.record, which rebuilds the object and drops a
 * `__proto__` key; depth is checked before size, since JSON.stringify recurses.
 */
export const MetadataSchema = z.custom<Record<string, unknown>>(isJsonObject, { error: 'must be a JSON object' }).check(
  z.refine((value) => nestsAtMost(value, MAX_METADATA_DEPTH), {
    error: `must not be nested more than ${MAX_METADATA_DEPTH} levels deep`,
    abort: true,
  }),
  z.refine((value) => jsonBytes(value) <= MAX_METADATA_BYTES, { error: `must be at most ${MAX_METADATA_BYTES} bytes of JSON` }),
);
// What z.record said in the request models and OpenAPI document: an object of anything.
MetadataSchema.register(z.globalRegistry, { type: 'object', additionalProperties: {} });

export const InteractionContextSchema = z.strictObject({
  // RFC 5321's 254: a longer domain would also pass what PostgreSQL can index in user_email_domains.
  email: z.optional(z.email({ error: 'must be an email address' }).check(z.maxLength(254, { error: 'must be at most 254 characters' }))),
  user_agent: z.optional(z.string().check(z.maxLength(1024))),
  ip: z.optional(z.union([z.ipv4(), z.ipv6()], { error: 'must be an IPv4 or IPv6 address' })),
  test: z.optional(z.boolean({ error: 'must be true or false' })),
  internal: z.optional(z.boolean({ error: 'must be true or false' })),
});

export const InteractionSchema = z.strictObject({
  event_id: z.optional(
    z.string().check(
      z.minLength(1, { error: 'must not be empty' }),
      z.maxLength(200, { error: 'must be at most 200 characters' }),
      // U+FFFD is what undecodable bytes become on the way in (API Gateway hands the body as text): two ids could become one.
      z.refine((id) => !id.includes('\uFFFD'), { error: 'must not contain U+FFFD, the mark left by bytes that were not UTF-8' }),
    ),
  ),
  user_id: UserIdSchema,
  interaction_type: InteractionTypeSchema,
  // A zone is required: a zone-less time would be read in whatever zone the server happens to run in.
  occurred_at: z.optional(
    z.iso.datetime({ offset: true, error: 'must be an ISO 8601 date-time with a zone, e.g. 2026-02-08T14:32:15+02:00' }),
  ),
  metadata: z.optional(MetadataSchema),
  context: z.optional(InteractionContextSchema),
});
export type InteractionInput = z.infer<typeof InteractionSchema>;

export const InteractionBatchSchema = z.strictObject({
  interactions: z.array(InteractionSchema).check(
    z.minLength(1, { error: 'must hold at least 1 interaction' }),
    z.maxLength(MAX_BATCH_SIZE, { error: `must hold at most ${MAX_BATCH_SIZE} interactions` }),
  ),
});
export type InteractionBatchInput = z.infer<typeof InteractionBatchSchema>;

/** One problem with a request, named by its path (`interactions.3.user_id`). */
export interface FieldProblem {
  field: string;
  message: string;
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; problems: FieldProblem[] };

export function parseWith<S extends z.ZodMiniType>(schema: S, body: unknown): Parsed<z.infer<S>> {
  // reportInput tells "missing" from "present but wrong"; the input itself is never echoed back.
  const result = z.safeParse(schema, body, { reportInput: true });
  if (result.success) {
    const problems = unstorableText(result.data);
    return problems.length === 0 ? { ok: true, value: result.data } : { ok: false, problems };
  }
  return {
    ok: false,
    problems: result.error.issues.map((issue) => ({
      field: issue.path.length > 0 ? issue.path.join('.') : '(body)',
      message: describeIssue(issue),
    })),
  };
}

function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') return `unknown field(s): ${issue.keys.join(', ')}`;
  if (issue.code === 'invalid_type' && issue.input === undefined) return 'is required';
  return issue.message;
}

/**
 * What PostgreSQL's text and jsonb cannot store, found before it reaches SQL so the client gets a 400 naming
 * the field instead of a 500: U+0000, and lone UTF-16 surrogates (not valid Unicode). Runs once the schema
 * has passed, so nesting is bounded by MAX_METADATA_DEPTH; iterative all the same.
 */
function unstorableText(body: unknown): FieldProblem[] {
  const problems: FieldProblem[] = [];
  const pending: Array<{ value: unknown; path: (string | number)[] }> = [{ value: body, path: [] }];
  const name = (path: (string | number)[]) => (path.length > 0 ? path.join('.') : '(body)');
  const problemWith = (text: string) =>
    text.includes('\u0000') ? 'the NUL character (\\u0000)' : text.isWellFormed() ? null : 'a lone UTF-16 surrogate';
  while (pending.length > 0) {
    const { value, path } = pending.pop()!;
    if (typeof value === 'string') {
      const problem = problemWith(value);
      if (problem) problems.push({ field: name(path), message: `must not contain ${problem}` });
      continue;
    }
    if (value === null || typeof value !== 'object') continue;
    for (const [key, item] of Object.entries(value)) {
      const problem = problemWith(key);
      if (problem) problems.push({ field: name(path), message: `must not have a key containing ${problem}` });
      else pending.push({ value: item, path: [...path, Array.isArray(value) ? Number(key) : key] });
    }
  }
  return problems.reverse();
}
