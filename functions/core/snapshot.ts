import { createHash } from 'node:crypto';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { EXCLUSION_REASONS, type ExclusionReason } from './classify.js';
import type { Config } from './config.js';

/**
 * Above this many real users the snapshot is not even read from Aurora: it could not fit its store. Readers then fold
 * the buffer and read Aurora, as a product that size keeps Aurora busy with its own traffic anyway.
 */
export const MAX_SNAPSHOT_USERS = 20_000;
/** Above this many distinct (time, reason) exclusions in the last 7 days, likewise. */
export const MAX_SNAPSHOT_EXCLUSIONS = 40_000;
/**
 * Most bytes of an encoded (deflated) snapshot. With the folded event_ids beside it (MAX_FOLDED_ID_BYTES, twice at
 * most) the record stays under DynamoDB's 400 KB item limit. About 12,000 real users with UUID ids fit.
 */
export const MAX_SNAPSHOT_BYTES = 240 * 1024;
/** The snapshot keeps exclusions from this long before the 7-day window at takenAt: a reader whose clock is behind by up to this is still exact. */
export const CLOCK_MARGIN_MS = 3_600_000;

/** The last interaction that did not count, as the summary shows it. */
export interface ExcludedInteraction {
  eventId: string;
  interactionType: string;
  occurredAt: Date;
  reason: ExclusionReason;
}

/** Interactions that did not count, with the same occurred_at and reason. */
export interface ExclusionGroup {
  at: number;
  reason: ExclusionReason;
  count: number;
}

/**
 * Everything Aurora would answer about the number, the summary and the publisher's figures, at any instant from takenAt
 * on, while nothing new is folded in: kept per user, so that buffered interactions can be added by the same rules.
 */
export interface Snapshot {
  takenAt: Date;
  /** The configuration that decided what counts when it was taken (configFingerprint). */
  fingerprint: string;
  /** Where the count starts before the first real user (BASELINE_DATE or the install date). */
  baseline: Date;
  /** Every real user who is not internal, with their last real time (epoch ms), keyed by user id. */
  realUsers: ReadonlyMap<string, number>;
  /** Users the database knows to be internal (INTERNAL_USER_IDS, an internal email domain, or `context.internal`). */
  internalUsers: ReadonlySet<string>;
  /**
   * Every type the summary lists, with its last real time among users who are not internal (null: none yet): each
   * counting type, then each other type a client sent (not counting: its last time from a real client). Whether a type
   * counts is the configuration's (the fingerprint).
   */
  lastByType: ReadonlyMap<string, number | null>;
  lastExcluded: ExcludedInteraction | null;
  /** The interactions that did not count with occurred_at after takenAt − 7 days − CLOCK_MARGIN_MS, by time and reason. */
  recentExclusions: readonly ExclusionGroup[];
}

/** A snapshot as stored, with the buffered interactions it already holds. */
export interface SnapshotRecord {
  takenAt: Date;
  fingerprint: string;
  /** null: Aurora held more than a snapshot keeps when it was taken; readers fold and read Aurora. */
  snapshot: Snapshot | null;
  /**
   * Aurora is being changed in a way the buffer cannot show (a user forgotten or un-marked): readers fold, and the fold
   * takes a new snapshot. Saved before the change, so a change that dies half-way still leaves no snapshot trusted.
   */
  stale?: boolean;
  /**
   * event_ids of buffered interactions that are in Aurora (and in this snapshot) but may still be in the buffer: the fold
   * takes them out only after saving this record, so readers must not add them again.
   */
  folded: ReadonlySet<string>;
}

/** Where the snapshot record lives: a DynamoDB item in AWS, memory locally. */
export interface SnapshotStore {
  read(): Promise<SnapshotRecord | null>;
  save(record: SnapshotRecord): Promise<void>;
}

/** The configuration that decides what counts and what is published: a change makes every snapshot stale. */
export function configFingerprint(config: Pick<Config, 'internal' | 'countingTypes' | 'warningDays' | 'criticalDays' | 'baselineDate'>): string {
  const decisive = {
    countingTypes: [...config.countingTypes],
    internalUserIds: [...config.internal.userIds].sort(),
    internalEmailDomains: [...config.internal.emailDomains].sort(),
    warningDays: config.warningDays,
    criticalDays: config.criticalDays,
    baselineDate: config.baselineDate?.toISOString() ?? null,
  };
  return createHash('sha256').update(JSON.stringify(decisive)).digest('hex').slice(0, 32);
}

/** The encoding's version: a record of another (an older release's) is not decoded, and readers fold for a new one. */
const ENCODING_VERSION = 3;

interface Encoded {
  v: typeof ENCODING_VERSION;
  takenAt: number;
  fingerprint: string;
  baseline: number;
  /** [type, last time or null], in the order the summary lists them (a type may look like a number: no object keys). */
  lastByType: Array<[string, number | null]>;
  lastExcluded: { eventId: string; interactionType: string; occurredAt: number; reason: ExclusionReason } | null;
  /** Real users by ascending last real time; times as deltas from the previous one. */
  users: string[];
  times: number[];
  internal: string[];
  /** [delta of at, index in EXCLUSION_REASONS, count], by ascending time. */
  exclusions: Array<[number, number, number]>;
}

const deltas = (ascending: readonly number[]) => ascending.map((value, i) => (i === 0 ? value : value - ascending[i - 1]!));
const sums = (steps: readonly number[]) => {
  let total = 0;
  return steps.map((step) => (total += step));
};

/** JSON, deflated: user ids repeat little but are mostly hex, and times become small ascending steps. */
export function encodeSnapshot(snapshot: Snapshot): Uint8Array {
  const users = [...snapshot.realUsers].sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : 1));
  const exclusions = [...snapshot.recentExclusions].sort((a, b) => a.at - b.at);
  const exclusionTimes = deltas(exclusions.map((group) => group.at));
  const encoded: Encoded = {
    v: ENCODING_VERSION,
    takenAt: snapshot.takenAt.getTime(),
    fingerprint: snapshot.fingerprint,
    baseline: snapshot.baseline.getTime(),
    lastByType: [...snapshot.lastByType],
    lastExcluded: snapshot.lastExcluded && { ...snapshot.lastExcluded, occurredAt: snapshot.lastExcluded.occurredAt.getTime() },
    users: users.map(([user]) => user),
    times: deltas(users.map(([, time]) => time)),
    internal: [...snapshot.internalUsers].sort(),
    exclusions: exclusions.map((group, i) => [exclusionTimes[i]!, EXCLUSION_REASONS.indexOf(group.reason), group.count]),
  };
  return deflateRawSync(Buffer.from(JSON.stringify(encoded), 'utf8'), { level: 9 });
}

/** The snapshot, or null when another release encoded it (then it is not trusted: readers fold and take a new one). */
export function decodeSnapshot(bytes: Uint8Array): Snapshot | null {
  const encoded = JSON.parse(inflateRawSync(bytes).toString('utf8')) as Encoded;
  if (encoded.v !== ENCODING_VERSION) return null;
  const times = sums(encoded.times);
  const exclusionTimes = sums(encoded.exclusions.map(([delta]) => delta));
  return {
    takenAt: new Date(encoded.takenAt),
    fingerprint: encoded.fingerprint,
    baseline: new Date(encoded.baseline),
    realUsers: new Map(encoded.users.map((user, i) => [user, times[i]!])),
    internalUsers: new Set(encoded.internal),
    lastByType: new Map(encoded.lastByType),
    lastExcluded: encoded.lastExcluded && { ...encoded.lastExcluded, occurredAt: new Date(encoded.lastExcluded.occurredAt) },
    recentExclusions: encoded.exclusions.map(([, reason, count], i) => ({ at: exclusionTimes[i]!, reason: EXCLUSION_REASONS[reason]!, count })),
  };
}
