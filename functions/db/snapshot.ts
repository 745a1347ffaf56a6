import type { Config } from '../core/config.js';
import { daysBefore } from '../core/metric.js';
import { MAX_SNAPSHOT_USERS, type Snapshot } from '../core/snapshot.js';
import { HEADLINE_COLUMNS, INTERNAL_USERS, internalParams, readPulse, type Pulse } from './metrics.js';
import { readNumber, readTimestamp, type Database } from './port.js';

// The headline and the last real time of each real, non-internal user active in the past 30 days: index reads only
// (real_users_last_real_at), at most MAX_SNAPSHOT_USERS + 1 of them, sent as one text of millisecond offsets
// from the window's start (10 digits a user at most: 50,000 users stay under the Data API's 1 MiB response).
const READ_SNAPSHOT = `
WITH ${INTERNAL_USERS},
active AS (
  SELECT last_real_at FROM real_users
  WHERE last_real_at > :since_30d AND user_id NOT IN (SELECT user_id FROM internal_users)
  ORDER BY last_real_at DESC LIMIT :limit
)
SELECT ${HEADLINE_COLUMNS},
  (SELECT count(*) FROM active) AS active_users,
  (SELECT coalesce(string_agg(round(extract(epoch FROM last_real_at - :since_30d::timestamptz) * 1000)::bigint::text, ',' ORDER BY last_real_at), '')
   FROM active) AS active_offsets`;

export type TakenSnapshot = { kind: 'snapshot'; snapshot: Snapshot } | { kind: 'over_bound'; pulse: Pulse; baseline: Date };

/**
 * Takes a snapshot at `now`; above MAX_SNAPSHOT_USERS monthly active users, reads the pulse instead (one more
 * query), as the publisher did before snapshots.
 */
export async function takeSnapshot(
  db: Database,
  config: Pick<Config, 'internal'>,
  fingerprint: string,
  baseline: (now: Date) => Promise<Date>,
  now: Date,
): Promise<TakenSnapshot> {
  const since = daysBefore(now, 30);
  const [[row], start] = await Promise.all([
    db.query(READ_SNAPSHOT, { ...internalParams(config.internal), since_30d: since, limit: MAX_SNAPSHOT_USERS + 1 }),
    baseline(now),
  ]);
  if (readNumber(row?.active_users) > MAX_SNAPSHOT_USERS) {
    return { kind: 'over_bound', pulse: await readPulse(db, config.internal, now), baseline: start };
  }
  const offsets = String(row?.active_offsets ?? '');
  return {
    kind: 'snapshot',
    snapshot: {
      takenAt: now,
      fingerprint,
      baseline: start,
      lastRealInteractionAt: readTimestamp(row?.last_real_at),
      totalRealUsers: readNumber(row?.total_users),
      activeLastRealAt: offsets === '' ? [] : offsets.split(',').map((offset) => since.getTime() + Number(offset)),
    },
  };
}
