import type { InternalUsers } from '../core/classify.js';
import type { CheckInSnapshot } from '../core/weekly-report.js';
import { INTERNAL_USERS, internalParams } from './metrics.js';
import { epochMs, readEpochMs, readNumber, type Database } from './port.js';

const WEEK_MS = 7 * 86_400_000;

// first_real_at is indexed: two range counts, minus the internal users among them.
const READ_NEW_REAL_USERS = `
WITH ${INTERNAL_USERS}
SELECT
  (SELECT count(*) FROM real_users
   WHERE first_real_at > :week_ago AND first_real_at <= :now AND user_id NOT IN (SELECT user_id FROM internal_users)) AS this_week,
  (SELECT count(*) FROM real_users
   WHERE first_real_at > :two_weeks_ago AND first_real_at <= :week_ago AND user_id NOT IN (SELECT user_id FROM internal_users)) AS last_week`;

/** Real users whose first real interaction fell in the last 7 days, and in the 7 days before that. */
export async function readNewRealUsers(db: Database, internal: InternalUsers, now: Date): Promise<{ thisWeek: number; lastWeek: number }> {
  const [row] = await db.query(READ_NEW_REAL_USERS, {
    ...internalParams(internal),
    now,
    week_ago: new Date(now.getTime() - WEEK_MS),
    two_weeks_ago: new Date(now.getTime() - 2 * WEEK_MS),
  });
  return { thisWeek: readNumber(row?.this_week), lastWeek: readNumber(row?.last_week) };
}

const COLUMNS = `${epochMs('c.slot')} AS slot, c.days, c.status, c.dau, c.wau, c.mau, c.total_real_users, c.new_real_users, ${epochMs('c.posted_at')} AS posted_at`;

export interface StoredCheckIn extends CheckInSnapshot {
  postedAt: Date | null;
}

function checkInOf(row: Record<string, unknown>): StoredCheckIn {
  return {
    slot: readEpochMs(row.slot)!,
    days: readNumber(row.days),
    status: row.status as CheckInSnapshot['status'],
    dau: readNumber(row.dau),
    wau: readNumber(row.wau),
    mau: readNumber(row.mau),
    totalRealUsers: readNumber(row.total_real_users),
    newRealUsers: readNumber(row.new_real_users),
    postedAt: readEpochMs(row.posted_at),
  };
}

/** The last check-in that reached Slack before `slot`: what "since last Friday" compares with. */
export async function readPreviousCheckIn(db: Database, slot: Date): Promise<StoredCheckIn | null> {
  const [row] = await db.query(
    `SELECT ${COLUMNS} FROM weekly_check_ins c WHERE c.slot < :slot AND c.posted_at IS NOT NULL ORDER BY c.slot DESC LIMIT 1`,
    { slot },
  );
  return row ? checkInOf(row) : null;
}

/** The slot of the last check-in that reached Slack; null before the first. */
export async function readLastPostedSlot(db: Database): Promise<Date | null> {
  const [row] = await db.query(`SELECT ${epochMs('max(slot)')} AS slot FROM weekly_check_ins WHERE posted_at IS NOT NULL`);
  return readEpochMs(row?.slot);
}

/** claimed: this run may post; posted: it already reached Slack; held: another run is posting it now. */
export type CheckInClaim = 'claimed' | 'posted' | 'held';

/**
 * Claims a Friday's check-in for `leaseMs` before it is posted; only one run at a time gets it. A claim
 * whose post failed (or whose lease lapsed) is taken again with the new figures, so the retry posts what is true now.
 */
export async function claimCheckIn(db: Database, snapshot: CheckInSnapshot, now: Date, leaseMs: number): Promise<CheckInClaim> {
  return db.transaction(async (tx) => {
    // The row lock makes a concurrent claim wait, then see the winner's claimed_at and back off.
    await tx.query(
      `INSERT INTO weekly_check_ins (slot, days, status, dau, wau, mau, total_real_users, new_real_users, claimed_at)
       VALUES (:slot, :days, :status, :dau, :wau, :mau, :total_real_users, :new_real_users, :now)
       ON CONFLICT (slot) DO UPDATE SET
         days = excluded.days, status = excluded.status, dau = excluded.dau, wau = excluded.wau, mau = excluded.mau,
         total_real_users = excluded.total_real_users, new_real_users = excluded.new_real_users, claimed_at = excluded.claimed_at
       WHERE weekly_check_ins.posted_at IS NULL
         AND (weekly_check_ins.claimed_at IS NULL OR weekly_check_ins.claimed_at <= :lapsed_before)`,
      {
        slot: snapshot.slot,
        days: snapshot.days,
        status: snapshot.status,
        dau: snapshot.dau,
        wau: snapshot.wau,
        mau: snapshot.mau,
        total_real_users: snapshot.totalRealUsers,
        new_real_users: snapshot.newRealUsers,
        now,
        lapsed_before: new Date(now.getTime() - leaseMs),
      },
    );
    // The outcome through a plain SELECT: the Data API formats JSON for SELECT statements only, and does not say whether
    // a WITH ... INSERT ... RETURNING is one. The row is this run's claim if this transaction wrote it (its xmin), which
    // stays exact when two runs claim in the same millisecond.
    const [row] = await tx.query<{ claimed: boolean; posted: boolean }>(
      'SELECT xmin = pg_current_xact_id()::xid AS claimed, posted_at IS NOT NULL AS posted FROM weekly_check_ins WHERE slot = :slot',
      { slot: snapshot.slot },
    );
    if (row === undefined) throw new Error('the check-in claim left no row for its slot');
    if (row.claimed) return 'claimed';
    return row.posted ? 'posted' : 'held';
  });
}

/** Gives back a claim whose post did not happen, so a retry need not wait for the lease; only this run's own claim. */
export async function releaseCheckIn(db: Database, slot: Date, claimedAt: Date): Promise<void> {
  await db.query('UPDATE weekly_check_ins SET claimed_at = NULL WHERE slot = :slot AND posted_at IS NULL AND claimed_at = :claimed_at', {
    slot,
    claimed_at: claimedAt,
  });
}

export async function markCheckInPosted(db: Database, slot: Date, at: Date): Promise<void> {
  await db.query('UPDATE weekly_check_ins SET posted_at = :at WHERE slot = :slot', { slot, at });
}
