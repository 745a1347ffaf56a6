import type { InternalUsers } from '../core/classify.js';
import { INTERNAL_USERS, internalParams } from './metrics.js';
import { readNumber, type Database } from './port.js';

// Each one statement, one Data API call: the functions are in sql/functions/forget_user.sql and unmark_internal_user.sql.
const FORGET_USER = 'SELECT forget_user(:user_id) AS interactions';
const UNMARK_INTERNAL_USER = 'SELECT user_known, unmarked_interactions FROM unmark_internal_user(:user_id)';
const IS_INTERNAL = `WITH ${INTERNAL_USERS} SELECT EXISTS (SELECT 1 FROM internal_users WHERE user_id = :user_id) AS internal`;

/** Deletes every interaction of the user and their share of every rollup; how many interactions there were. */
export async function forgetUser(db: Database, userId: string): Promise<number> {
  const [row] = await db.query(FORGET_USER, { user_id: userId });
  return readNumber(row?.interactions);
}

/** Takes back `context.internal: true` for the user; null when no interaction of theirs was ever recorded. */
export async function unmarkInternalUser(db: Database, userId: string): Promise<{ interactions: number } | null> {
  const [row] = await db.query(UNMARK_INTERNAL_USER, { user_id: userId });
  return row?.user_known === true ? { interactions: readNumber(row.unmarked_interactions) } : null;
}

/** Whether the user is internal as the metric reads it now (marked, INTERNAL_USER_IDS, or an internal email domain). */
export async function isInternalNow(db: Database, internal: InternalUsers, userId: string): Promise<boolean> {
  const [row] = await db.query(IS_INTERNAL, { ...internalParams(internal), user_id: userId });
  return row?.internal === true;
}
