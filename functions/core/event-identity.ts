import { createHash } from 'node:crypto';
import { storedUserId, type FieldProblem, type InteractionInput, type Parsed } from './interaction.js';

/** The request header a client may send so that a retry of a request without event_ids never counts twice. */
export const IDEMPOTENCY_KEY_HEADER = 'Idempotency-Key';
/** As long as payment APIs allow (Stripe: 255 characters). */
export const MAX_IDEMPOTENCY_KEY_LENGTH = 255;
/** Visible ASCII, spaces allowed between: what a header carries unchanged. */
export const IDEMPOTENCY_KEY_PATTERN = /^[\x21-\x7E](?:[\x20-\x7E]*[\x21-\x7E])?$/;

/** The Idempotency-Key header, checked: visible ASCII (spaces inside), 1 to 255 characters; absent is fine. */
export function parseIdempotencyKey(value: string | undefined): Parsed<string | undefined> {
  if (value === undefined) return { ok: true, value: undefined };
  const problem = (message: string): Parsed<never> => ({ ok: false, problems: [{ field: IDEMPOTENCY_KEY_HEADER, message } satisfies FieldProblem] });
  if (value.length > MAX_IDEMPOTENCY_KEY_LENGTH) return problem(`must be at most ${MAX_IDEMPOTENCY_KEY_LENGTH} characters`);
  if (!IDEMPOTENCY_KEY_PATTERN.test(value)) return problem('must be 1 or more visible ASCII characters (spaces allowed between them)');
  return { ok: true, value };
}

/** Where an interaction sits in its request: the request's Idempotency-Key, and its place in a batch (none for the single route). */
export interface RequestIdentity {
  idempotencyKey?: string;
  index?: number;
}

/**
 * JSON with every object's keys in one order, so the same content always gives the same text: RFC 8785's canonical
 * form for what a parsed request holds (its numbers are already written as JSON.stringify writes them, and its keys
 * sort by UTF-16 code units, as Array.prototype.sort does). Nesting is bounded by the request schema (32 levels).
 */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  const keys = Object.keys(value).sort();
  return `{${keys.map((key) => `${JSON.stringify(key)}:${canonicalJson((value as Record<string, unknown>)[key])}`).join(',')}}`;
}

/** A fixed-length id from what identifies an interaction: SHA-256 of its canonical JSON, in base64url. */
const digest = (identity: unknown): string => createHash('sha256').update(canonicalJson(identity), 'utf8').digest('base64url');

/**
 * The event_id an interaction is stored under, chosen so that the same request sent again never counts twice:
 * 1. the client's event_id;
 * 2. else, with an Idempotency-Key, one derived from the key (and the item's place in a batch): a retry sends the same
 *    key, and a key names one request, as payment APIs use it (content sent again under the same key is that request);
 * 3. else, when occurred_at was sent, one derived from everything the client sent: a retry is the same content, and two
 *    interactions alike in every field, to the millisecond, are one interaction as far as any figure is concerned;
 * 4. else null: the server's clock filled in occurred_at, so a retry differs from the first try and nothing ties the two
 *    together. The server makes up an id (as before), and such a request is not retry-safe; the API reference says so.
 * Derived ids are prefixed by their source, so they read as what they are.
 */
export function eventIdOf(interaction: InteractionInput, request: RequestIdentity = {}): string | null {
  if (interaction.event_id !== undefined) return interaction.event_id;
  if (request.idempotencyKey !== undefined) return `idempotency-key:${digest([request.idempotencyKey, request.index ?? null])}`;
  if (interaction.occurred_at === undefined) return null;
  return `content:${digest({
    // The user as stored: "Ana" and "ana" are two users, a UUID in either case one.
    user_id: storedUserId(interaction.user_id),
    interaction_type: interaction.interaction_type,
    // The instant, however the zone was written: 14:32:15+02:00 and 12:32:15Z are the same interaction.
    occurred_at: new Date(interaction.occurred_at).toISOString(),
    metadata: interaction.metadata ?? {},
    context: interaction.context ?? {},
  })}`;
}
