import { compareUtf8, type BufferedInteraction } from './buffer.js';
import { EXCLUSION_REASONS, isInternalUser, type ExclusionReason } from './classify.js';
import type { Config } from './config.js';
import { DAY_MS } from './metric.js';
import type { PulseFigures } from './published-figures.js';
import { CLOCK_MARGIN_MS, type ExcludedInteraction, type Snapshot, type SnapshotRecord } from './snapshot.js';

/** What did not count: the last excluded interaction, and how many per reason over the last 7 days. */
export interface Exclusions {
  last: ExcludedInteraction | null;
  countsSince: Record<ExclusionReason, number>;
}

/** A type's last real interaction (for a type that does not count: its last from a real client), and whether it counts. */
export interface LastOfType {
  at: Date | null;
  counts: boolean;
}

/** Everything the number, the summary and the publisher show, as of one instant. */
export interface CurrentFigures {
  pulse: PulseFigures;
  /** Every counting type in the configured order (INTERACTION_TYPES), then each other type a client sent, in byte order. */
  lastByType: Map<string, LastOfType>;
  exclusions: Exclusions;
  /** Where the count starts before the first real user. */
  baseline: Date;
}

/**
 * Why snapshot + buffer cannot give the exact figures, so the buffer must be folded and Aurora read:
 * no snapshot, Aurora held more than a snapshot keeps, another configuration, a clock far behind the snapshot's, a
 * buffered interaction that makes someone internal whom the snapshot still counts (their whole history must leave), or
 * a user being forgotten or un-marked in Aurora (the snapshot is stale until the change takes a new one).
 */
export type FoldReason = 'missing' | 'over_bound' | 'other_configuration' | 'clock_behind' | 'newly_internal' | 'stale';

export type Combined = { kind: 'exact'; figures: CurrentFigures } | { kind: 'needs_fold'; why: FoldReason };

export const noExclusions = (): Record<ExclusionReason, number> =>
  Object.fromEntries(EXCLUSION_REASONS.map((reason) => [reason, 0])) as Record<ExclusionReason, number>;

// The snapshot's last real times in ascending order, sorted once per decoded snapshot.
const ascendingTimes = new WeakMap<Snapshot, number[]>();
function timesOf(snapshot: Snapshot): number[] {
  let times = ascendingTimes.get(snapshot);
  if (!times) ascendingTimes.set(snapshot, (times = [...snapshot.realUsers.values()].sort((a, b) => a - b)));
  return times;
}

/** How many of `length` ascending values (the i-th is `at(i)`) are greater than `bound`. */
function countAbove(length: number, bound: number, at: (i: number) => number): number {
  let low = 0;
  let high = length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (at(middle) > bound) high = middle;
    else low = middle + 1;
  }
  return length - low;
}

/** The later of two excluded interactions, as the database orders them: occurred_at, then event_id (collation "C"). */
function later(a: ExcludedInteraction | null, b: ExcludedInteraction): ExcludedInteraction {
  if (a === null) return b;
  const byTime = a.occurredAt.getTime() - b.occurredAt.getTime();
  return byTime > 0 || (byTime === 0 && compareUtf8(a.eventId, b.eventId) > 0) ? a : b;
}

const maxOf = (a: number | undefined, b: number) => (a === undefined || b > a ? b : a);

/** The summary's order of types: the counting ones as configured, then the others by their bytes (as the database orders them). */
function orderedByType(last: ReadonlyMap<string, number | null>, countingTypes: ReadonlySet<string>): Map<string, LastOfType> {
  const figure = (type: string, counts: boolean): [string, LastOfType] => {
    const at = last.get(type);
    return [type, { at: at === undefined || at === null ? null : new Date(at), counts }];
  };
  const others = [...last.keys()].filter((type) => !countingTypes.has(type)).sort(compareUtf8);
  return new Map([...[...countingTypes].map((type) => figure(type, true)), ...others.map((type) => figure(type, false))]);
}

/**
 * The figures at `now` from the snapshot plus what waits in the buffer, by the rules the database reads with: a user is
 * active while their last real time is after now − 24 h / 7 d / 30 d; a user counts once however many of their
 * interactions are buffered; internal users never count, and their interactions count as excluded. `config` is the one
 * the fingerprint was taken of.
 */
export function currentFigures(
  record: SnapshotRecord | null,
  buffer: readonly BufferedInteraction[],
  config: Pick<Config, 'internal' | 'countingTypes'>,
  fingerprint: string,
  now: Date,
): Combined {
  const internal = config.internal;
  if (record === null) return { kind: 'needs_fold', why: 'missing' };
  if (record.stale) return { kind: 'needs_fold', why: 'stale' };
  if (record.fingerprint !== fingerprint) return { kind: 'needs_fold', why: 'other_configuration' };
  const snapshot = record.snapshot;
  if (snapshot === null) return { kind: 'needs_fold', why: 'over_bound' };
  if (now.getTime() < snapshot.takenAt.getTime() - CLOCK_MARGIN_MS) return { kind: 'needs_fold', why: 'clock_behind' };
  const waiting = buffer.filter((item) => !record.folded.has(item.event_id));

  // Who is internal: what the database knew, the configuration, and anything buffered that reveals it.
  const revealedInternal = new Set<string>();
  for (const item of waiting) {
    if (snapshot.internalUsers.has(item.user_id) || revealedInternal.has(item.user_id)) continue;
    if (isInternalUser(item.user_id, [item.email_domain], item.marked_internal, internal)) revealedInternal.add(item.user_id);
  }
  for (const user of revealedInternal) {
    // Someone known only now to be internal, whom Aurora may hold history of: only Aurora can take it all out.
    if (!internal.userIds.has(user)) return { kind: 'needs_fold', why: 'newly_internal' };
  }
  const isInternal = (user: string) => snapshot.internalUsers.has(user) || revealedInternal.has(user);

  const lastReal = new Map<string, number>();
  const lastByType = new Map<string, number | null>(snapshot.lastByType);
  const since7d = now.getTime() - 7 * DAY_MS;
  const countsSince = noExclusions();
  let lastExcluded = snapshot.lastExcluded;
  for (const item of waiting) {
    const at = Date.parse(item.occurred_at);
    const reason: ExclusionReason | null = isInternal(item.user_id) ? 'internal_user' : item.exclusion_reason;
    // A type that does not count is listed once anyone sent it, with the last time a user who is not internal did.
    if (item.exclusion_reason === 'not_engagement' && !lastByType.has(item.interaction_type)) lastByType.set(item.interaction_type, null);
    if (reason === null || reason === 'not_engagement') {
      lastByType.set(item.interaction_type, maxOf(lastByType.get(item.interaction_type) ?? undefined, at));
    }
    if (reason === null) {
      lastReal.set(item.user_id, maxOf(lastReal.get(item.user_id), at));
      continue;
    }
    if (at > since7d) countsSince[reason] += 1;
    lastExcluded = later(lastExcluded, { eventId: item.event_id, interactionType: item.interaction_type, occurredAt: new Date(at), reason });
  }
  const recent = snapshot.recentExclusions;
  for (let i = recent.length - countAbove(recent.length, since7d, (j) => recent[j]!.at); i < recent.length; i++) {
    countsSince[recent[i]!.reason] += recent[i]!.count;
  }

  // Active users: the snapshot's, each buffered real user moved to their later last real time.
  const times = timesOf(snapshot);
  const active = (days: number) => {
    const bound = now.getTime() - days * DAY_MS;
    let count = countAbove(times.length, bound, (i) => times[i]!);
    for (const [user, time] of lastReal) {
      const before = snapshot.realUsers.get(user);
      if (before !== undefined && before > bound) count -= 1;
      if (maxOf(before, time) > bound) count += 1;
    }
    return count;
  };
  let newUsers = 0;
  let latest = times.length > 0 ? times[times.length - 1]! : undefined;
  for (const [user, time] of lastReal) {
    if (!snapshot.realUsers.has(user)) newUsers += 1;
    latest = maxOf(latest, time);
  }
  return {
    kind: 'exact',
    figures: {
      pulse: {
        lastRealInteractionAt: latest === undefined ? null : new Date(latest),
        totalRealUsers: snapshot.realUsers.size + newUsers,
        dau: active(1),
        wau: active(7),
        mau: active(30),
      },
      lastByType: orderedByType(lastByType, config.countingTypes),
      exclusions: { last: lastExcluded, countsSince },
      baseline: snapshot.baseline,
    },
  };
}
