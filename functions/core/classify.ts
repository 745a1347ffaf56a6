import { isbot } from 'isbot';
import type { InteractionInput } from './interaction.js';

/** Why an interaction does not count as real engagement, most decisive first. */
export const EXCLUSION_REASONS = ['internal_user', 'test_traffic', 'automated_client', 'not_engagement'] as const;
export type ExclusionReason = (typeof EXCLUSION_REASONS)[number];

/** The reasons decided once, when the interaction arrives; internal_user is decided when the metric is read. */
export type StoredExclusionReason = Exclude<ExclusionReason, 'internal_user'>;

/** Who the team is: their own accounts never count. */
export interface InternalUsers {
  userIds: ReadonlySet<string>;
  emailDomains: ReadonlySet<string>;
}

/** What the database already knew about a user before this batch arrived: internal (marked, or by an internal email domain) or not. */
export interface KnownUser {
  internal: boolean;
}

/** Only the domain is kept: the address itself is personal data the metric never needs. */
export function emailDomainOf(email: string | undefined): string | null {
  if (!email) return null;
  const at = email.lastIndexOf('@');
  return at < 0 ? null : email.slice(at + 1).toLowerCase();
}

/**
 * The user agent as sent, or null when there is none to judge: missing, empty and blank are one case, whatever the
 * whitespace. A backend calling server to server often has no end user's agent to forward; it is then trusted.
 */
export function userAgentOf(userAgent: string | undefined): string | null {
  const trimmed = userAgent?.trim();
  return trimmed ? trimmed : null;
}

/** The part of the verdict that does not depend on who the user is: `countingTypes` are the types that count (INTERACTION_TYPES). */
export function storedExclusionReason(interaction: InteractionInput, countingTypes: ReadonlySet<string>): StoredExclusionReason | null {
  if (interaction.context?.test === true) return 'test_traffic';
  const userAgent = userAgentOf(interaction.context?.user_agent);
  if (userAgent !== null && isbot(userAgent)) return 'automated_client';
  if (!countingTypes.has(interaction.interaction_type)) return 'not_engagement';
  return null;
}

/** An email domain is internal when it is one of INTERNAL_EMAIL_DOMAINS or under one: `mail.internal.test` is under `internal.test`. */
export function isInternalDomain(domain: string, internalDomains: ReadonlySet<string>): boolean {
  for (let at = domain; ; at = at.slice(at.indexOf('.') + 1)) {
    if (internalDomains.has(at)) return true;
    if (!at.includes('.')) return false;
  }
}

/** `userId` as stored (storedUserId): INTERNAL_USER_IDS holds ids in the same form. */
export function isInternalUser(
  userId: string,
  domains: Iterable<string | null>,
  markedInternal: boolean,
  internal: InternalUsers,
): boolean {
  if (markedInternal || internal.userIds.has(userId)) return true;
  for (const domain of domains) if (domain !== null && isInternalDomain(domain, internal.emailDomains)) return true;
  return false;
}
