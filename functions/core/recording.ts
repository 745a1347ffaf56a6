import { emailDomainOf, isInternalUser, storedExclusionReason, userAgentOf, type ExclusionReason, type InternalUsers, type KnownUser } from './classify.js';
import type { Config, IpStorage } from './config.js';
import { eventIdOf, type RequestIdentity } from './event-identity.js';
import { MAX_FUTURE_SKEW_MS, storedUserId, type FieldProblem, type InteractionInput } from './interaction.js';

/** An interaction ready to be stored: defaults filled in, email reduced to its domain, the user-independent verdict taken. */
export interface InteractionToStore {
  event_id: string;
  user_id: string;
  interaction_type: string;
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

/** What decides how an interaction is stored: which types count, and whether an IP is kept. */
export type StoreSettings = Pick<Config, 'countingTypes' | 'storeIp'>;

/**
 * An IP as STORE_IP keeps it: not at all, or its network only (IPv4 /24, IPv6 /48), which says where a client is without
 * naming its machine. Both forms arrive checked by the schema; an IPv4-mapped IPv6 address is kept as the IPv4 it is.
 */
export function storedIp(ip: string | undefined, storage: IpStorage): string | null {
  if (ip === undefined || storage === 'none') return null;
  const v4 = /^(?:::ffff:)?(\d+)\.(\d+)\.(\d+)\.\d+$/i.exec(ip);
  if (v4) return `${v4[1]}.${v4[2]}.${v4[3]}.0/24`;
  const [head = '', tail = ''] = ip.toLowerCase().split('::');
  const groups = (part: string) => (part === '' ? [] : part.split(':'));
  const known = [...groups(head), ...(ip.includes('::') ? [] : groups(tail))];
  // With "::", the groups before it come first and zeros fill in up to the tail; the /48 needs the first three.
  const first = [...known, '0', '0', '0'].slice(0, 3).map((group) => group.replace(/^0+(?=.)/, ''));
  return `${first.join(':')}::/48`;
}

/** `request`: the request's Idempotency-Key and the item's place in a batch, from which eventIdOf may derive its event_id. */
export function toStore(
  interaction: InteractionInput,
  now: Date,
  newEventId: () => string,
  settings: StoreSettings,
  request: RequestIdentity = {},
): InteractionToStore {
  const context = interaction.context ?? {};
  return {
    event_id: eventIdOf(interaction, request) ?? newEventId(),
    user_id: storedUserId(interaction.user_id),
    interaction_type: interaction.interaction_type,
    occurred_at: new Date(interaction.occurred_at ?? now).toISOString(),
    exclusion_reason: storedExclusionReason(interaction, settings.countingTypes),
    marked_internal: context.internal === true,
    email_domain: emailDomainOf(context.email),
    user_agent: userAgentOf(context.user_agent),
    ip: storedIp(context.ip, settings.storeIp),
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
