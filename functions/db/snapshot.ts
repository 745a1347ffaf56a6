import type { ExclusionReason, InternalUsers } from '../core/classify.js';
import { DAY_MS } from '../core/metric.js';
import {
  CLOCK_MARGIN_MS,
  encodeSnapshot,
  MAX_SNAPSHOT_BYTES,
  MAX_SNAPSHOT_EXCLUSIONS,
  MAX_SNAPSHOT_USERS,
  type ExclusionGroup,
  type Snapshot,
} from '../core/snapshot.js';
import {
  excludedInteractionOf,
  INTERNAL_USERS,
  internalParams,
  LAST_EXCLUDED,
  LAST_EXCLUDED_COLUMNS,
  readLastRealByType,
  RECENT_EXCLUDED,
} from './metrics.js';
import { epochMs, readEpochMs, readNumber, type Database, type SqlParams } from './port.js';

/**
 * Rows per page. The Data API answers at most 1 MiB and 64 KB a row: one row per user (or per exclusion) stays a few
 * dozen bytes whatever the count, where one row of every user broke the 64 KB row limit past about 6,200 users.
 */
export const SNAPSHOT_PAGE_ROWS = 4_000;

// The real users who are not internal, and the internal ones, in user_id order after a cursor (text in byte order, "C",
// from ''; no id is empty): a primary-key walk of real_users, whose user_id is text COLLATE "C".
const READ_REAL_USERS = `
WITH ${INTERNAL_USERS}
SELECT r.user_id, ${epochMs('r.last_real_at')} AS last_real_at FROM real_users r
WHERE r.user_id > :after AND r.user_id NOT IN (SELECT user_id FROM internal_users)
ORDER BY r.user_id LIMIT :limit`;

// internal_users mixes stored ids with configured ones (INTERNAL_USER_IDS): the collation is named, not inherited.
const READ_INTERNAL_USERS = `
WITH ${INTERNAL_USERS}
SELECT user_id FROM internal_users
WHERE user_id COLLATE "C" > :after
ORDER BY user_id COLLATE "C" LIMIT :limit`;

// How many real users are not internal (the kept counters less the internal ones), and how many are internal.
const READ_SIZES = `
WITH ${INTERNAL_USERS}
SELECT (SELECT sum(users) FROM real_user_count)::bigint
         - (SELECT count(*) FROM internal_users iu
            CROSS JOIN LATERAL (SELECT 1 FROM real_users r WHERE r.user_id = iu.user_id LIMIT 1) AS real_internal) AS real_users,
       (SELECT count(*) FROM internal_users) AS internal_users`;

// The exclusions after :since grouped by time and reason, after a cursor (the 7-day index range, read again per page).
const READ_RECENT_EXCLUSIONS = `
WITH ${INTERNAL_USERS}, ${RECENT_EXCLUDED}
SELECT ${epochMs('e.occurred_at')} AS occurred_at, e.reason, count(*) AS interactions FROM recent_excluded e
WHERE (e.occurred_at, e.reason) > (:after_at, :after_reason)
GROUP BY e.occurred_at, e.reason ORDER BY e.occurred_at, e.reason LIMIT :limit`;

const READ_LAST_EXCLUDED = `WITH ${INTERNAL_USERS}, ${LAST_EXCLUDED} SELECT ${LAST_EXCLUDED_COLUMNS} FROM last_excluded l`;

/** Reads keyset pages of `sql` until a short page; the cursor comes from each page's last row. */
async function readPages<T extends Record<string, unknown>>(
  db: Database,
  sql: string,
  params: (after: T | null) => SqlParams,
  limit: number,
  atMost: number,
): Promise<T[] | null> {
  const rows: T[] = [];
  let after: T | null = null;
  for (;;) {
    const page: T[] = await db.query<T>(sql, { ...params(after), limit });
    rows.push(...page);
    if (rows.length > atMost) return null;
    if (page.length < limit) return rows;
    after = page[page.length - 1]!;
  }
}

const userCursor = (after: { user_id: unknown } | null): SqlParams => ({ after: after === null ? '' : String(after.user_id) });

export interface SnapshotContext {
  internal: InternalUsers;
  /** INTERACTION_TYPES, in order: the fingerprint holds them. */
  countingTypes: ReadonlySet<string>;
  fingerprint: string;
  baseline: Date;
}

/**
 * Takes a snapshot of Aurora at `now` in one read-only transaction (every page sees the same moment), or null when it
 * would not fit its store (more than MAX_SNAPSHOT_USERS real users, MAX_SNAPSHOT_EXCLUSIONS exclusions in 7 days, or
 * MAX_SNAPSHOT_BYTES encoded): then readers fold the buffer and read Aurora.
 */
export async function takeSnapshot(db: Database, context: SnapshotContext, now: Date, pageRows = SNAPSHOT_PAGE_ROWS): Promise<Snapshot | null> {
  const internal = internalParams(context.internal);
  const since = new Date(now.getTime() - 7 * DAY_MS - CLOCK_MARGIN_MS);
  const snapshot = await db.transaction(async (tx) => {
    await tx.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY');
    const [sizes] = await tx.query(READ_SIZES, internal);
    if (readNumber(sizes?.real_users) > MAX_SNAPSHOT_USERS || readNumber(sizes?.internal_users) > MAX_SNAPSHOT_USERS) return null;

    const real = await readPages<{ user_id: string; last_real_at: unknown }>(
      tx, READ_REAL_USERS, (after) => ({ ...internal, ...userCursor(after) }), pageRows, MAX_SNAPSHOT_USERS,
    );
    const internalUsers = await readPages<{ user_id: string }>(
      tx, READ_INTERNAL_USERS, (after) => ({ ...internal, ...userCursor(after) }), pageRows, MAX_SNAPSHOT_USERS,
    );
    const exclusions = await readPages<{ occurred_at: unknown; reason: string; interactions: unknown }>(
      tx,
      READ_RECENT_EXCLUSIONS,
      (after) => ({
        ...internal,
        since,
        after_at: after === null ? since : readEpochMs(after.occurred_at)!,
        after_reason: after === null ? '' : after.reason,
      }),
      pageRows,
      MAX_SNAPSHOT_EXCLUSIONS,
    );
    if (real === null || internalUsers === null || exclusions === null) return null;
    // One statement at a time: a transaction runs one query at once (the Data API refuses a second).
    const lastByType = await readLastRealByType(tx, context.internal, context.countingTypes);
    const [last] = await tx.query(READ_LAST_EXCLUDED, internal);
    return {
      takenAt: now,
      fingerprint: context.fingerprint,
      baseline: context.baseline,
      realUsers: new Map(real.map((row) => [row.user_id, readEpochMs(row.last_real_at)!.getTime()])),
      internalUsers: new Set(internalUsers.map((row) => row.user_id)),
      lastByType: new Map([...lastByType].map(([type, { at }]) => [type, at === null ? null : at.getTime()])),
      lastExcluded: last ? excludedInteractionOf(last) : null,
      recentExclusions: exclusions.map(
        (row): ExclusionGroup => ({ at: readEpochMs(row.occurred_at)!.getTime(), reason: row.reason as ExclusionReason, count: readNumber(row.interactions) }),
      ),
    } satisfies Snapshot;
  });
  return snapshot !== null && encodeSnapshot(snapshot).byteLength <= MAX_SNAPSHOT_BYTES ? snapshot : null;
}
