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

/** The part of the verdict that does not depend on who the user is. */
export function storedExclusionReason(interaction: InteractionInput): StoredExclusionReason | null {
  if (interaction.context?.test === true) return 'test_traffic';
  const userAgent = interaction.context?.user_agent;
  if (userAgent !== undefined && isbot(userAgent)) return 'automated_client';
  if (interaction.interaction_type === 'page_view') return 'not_engagement';
  return null;
}

export function isInternalUser(
  userId: string,
  domains: Iterable<string | null>,
  markedInternal: boolean,
  internal: InternalUsers,
): boolean {
  if (markedInternal || internal.userIds.has(userId.toLowerCase())) return true;
  for (const domain of domains) if (domain !== null && internal.emailDomains.has(domain)) return true;
  return false;
}
