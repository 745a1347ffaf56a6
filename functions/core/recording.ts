import { emailDomainOf, isInternalUser, storedExclusionReason, type ExclusionReason, type InternalUsers, type KnownUser } from './classify.js';
import { eventIdOf, type RequestIdentity } from './event-identity.js';
import { MAX_FUTURE_SKEW_MS, type FieldProblem, type InteractionInput } from './interaction.js';

/** An interaction ready to be stored: defaults filled in, email reduced to its domain, the user-independent verdict taken. */
export interface InteractionToStore {
  event_id: string;
  user_id: string;
  interaction_type: InteractionInput['interaction_type'];
  occurred_at: string;
  exclusion_reason: ReturnType<typeof storedExclusionReason>;
  marked_internal: boolean;
  email_domain: string | null;
  user_agent: string | null;
  ip: string | null;
  metadata: Record<string, unknown>;
}

/** Older than any product this counts for; also keeps year 0 (which PostgreSQL refuses) and typos like 0026 out. */
export const EARLIEST_OCCURRED_AT = new Date('2000-01-01T00:00:00Z');

/** The checks a schema cannot make because they need the clock. */
export function timingProblems(interaction: InteractionInput, now: Date, field = 'occurred_at'): FieldProblem[] {
  if (interaction.occurred_at === undefined) return [];
  const at = Date.parse(interaction.occurred_at);
  if (at - now.getTime() > MAX_FUTURE_SKEW_MS) return [{ field, message: 'must not be more than 5 minutes in the future' }];
  if (at < EARLIEST_OCCURRED_AT.getTime()) return [{ field, message: 'must not be before 2000-01-01' }];
  return [];
}

/** `request`: the request's Idempotency-Key and the item's place in a batch, from which eventIdOf may derive its event_id. */
export function toStore(interaction: InteractionInput, now: Date, newEventId: () => string, request: RequestIdentity = {}): InteractionToStore {
  const context = interaction.context ?? {};
  return {
    event_id: eventIdOf(interaction, request) ?? newEventId(),
    user_id: interaction.user_id.toLowerCase(),
    interaction_type: interaction.interaction_type,
    occurred_at: new Date(interaction.occurred_at ?? now).toISOString(),
    exclusion_reason: storedExclusionReason(interaction),
    marked_internal: context.internal === true,
    email_domain: emailDomainOf(context.email),
    user_agent: context.user_agent ?? null,
    ip: context.ip ?? null,
    metadata: interaction.metadata ?? {},
  };
}

export interface Verdict {
  event_id: string;
  status: 'recorded' | 'duplicate';
  counted: boolean;
  reason: ExclusionReason | null;
}

/** What became of one submitted interaction, and what was known of its user before it arrived. */
export interface StoredOutcome {
  /** false: its event_id was already stored (earlier, or earlier in the same batch) and nothing changed. */
  recorded: boolean;
  /** The stored interaction this event_id stands for (the original, for a duplicate). */
  stored: Pick<InteractionToStore, 'user_id' | 'exclusion_reason' | 'marked_internal' | 'email_domain'>;
  knownUser: KnownUser | null;
}

/**
 * What each submitted interaction amounts to, as known right now: what the database knew of the user, plus
 * whatever the whole batch reveals (an internal email, a `context.internal`), so every item of one user in a batch
 * gets the same answer, whichever order they came in.
 */
export function verdicts(stored: readonly InteractionToStore[], outcomes: readonly StoredOutcome[], internal: InternalUsers): Verdict[] {
  const internalUsers = new Set<string>();
  for (const { stored: { user_id, marked_internal, email_domain }, knownUser } of outcomes) {
    if (knownUser?.internal || isInternalUser(user_id, [email_domain], marked_internal, internal)) internalUsers.add(user_id);
  }
  return stored.map((submitted, index) => {
    const outcome = outcomes[index]!;
    const reason: ExclusionReason | null = internalUsers.has(outcome.stored.user_id) ? 'internal_user' : outcome.stored.exclusion_reason;
    return { event_id: submitted.event_id, status: outcome.recorded ? 'recorded' : 'duplicate', counted: reason === null, reason };
  });
}
