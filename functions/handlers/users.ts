import * as z from 'zod/mini';
import { storedUserId, UserIdSchema } from '../core/interaction.js';
import type { ForgetAnswer, UnmarkAnswer } from '../core/users.js';
import { forgetUser, isInternalNow, unmarkInternalUser } from '../db/users.js';
import type { Database } from '../db/port.js';
import { awsFoldDeps } from './aws-folding.js';
import { changeUser, type FoldDeps } from './fold.js';
import { invalid, RequestError, type ApiEvent, type ApiHandler } from './http.js';
import { familyHandler } from './routes.js';
import { lazyAwsDeps } from './runtime.js';
import type { ServiceDeps } from './service.js';

/** What forgetting and un-marking do where the service keeps interactions: the database, and in AWS the buffer too. */
export interface UserChanges {
  /** How many of the user's interactions were deleted. */
  forget(userId: string): Promise<number>;
  /** How many of the user's interactions carried the mark; null when none was ever recorded. */
  unmark(userId: string): Promise<{ interactions: number } | null>;
}

/** The local way: one statement each, at once (`afterChange` tells the local snapshot it is out of date). */
export function changeAtOnce(db: Database, afterChange: () => void = () => {}): UserChanges {
  return {
    async forget(userId) {
      const interactions = await forgetUser(db, userId);
      afterChange();
      return interactions;
    },
    async unmark(userId) {
      const unmarked = await unmarkInternalUser(db, userId);
      afterChange();
      return unmarked;
    },
  };
}

/**
 * The AWS way: Aurora and the buffer (pending interactions, and the verdicts remembered for duplicates) under the fold's
 * lease, then a new snapshot (functions/handlers/fold.ts changeUser), so every read afterwards equals a recount.
 */
export function changeUnderLease(deps: FoldDeps): UserChanges {
  return {
    async forget(userId) {
      const { database, buffered } = await changeUser(deps, {
        inDatabase: (db) => forgetUser(db, userId),
        inBuffer: (buffer) => buffer.forgetUser(userId),
      });
      return database + buffered;
    },
    async unmark(userId) {
      const { database, buffered } = await changeUser(deps, {
        inDatabase: (db) => unmarkInternalUser(db, userId),
        inBuffer: (buffer) => buffer.unmarkUser(userId),
      });
      // Everything pending before the change was folded first: a user Aurora does not know sent nothing before it.
      return database === null ? null : { interactions: database.interactions + buffered };
    },
  };
}

export interface UsersDeps extends ServiceDeps {
  /** @default changeAtOnce(db): the database alone, as `npm start` keeps everything there */
  changes?: UserChanges;
}

/**
 * The user a request names, in `?user_id=` (percent-encoded): a path segment could not carry every id, as API Gateway
 * refuses an encoded slash in a path. Stored as ingest stores it, so a UUID in capitals names the same user.
 */
function userIdOf(event: ApiEvent): string {
  const raw = event.queryStringParameters?.user_id;
  if (raw === undefined || raw === null) throw invalid([{ field: 'user_id', message: 'is required: ?user_id=<the id, percent-encoded>' }]);
  const parsed = z.safeParse(UserIdSchema, raw);
  if (!parsed.success) throw invalid([{ field: 'user_id', message: parsed.error.issues[0]!.message }]);
  return storedUserId(parsed.data);
}

/** (adapter) DELETE /users, DELETE /internal-users --> the database (and in AWS the buffer, then a new snapshot) --> what changed. */
export function createUsersHandler(deps: UsersDeps): ApiHandler {
  const changes = deps.changes ?? changeAtOnce(deps.db);
  const forget = async (event: ApiEvent): Promise<ForgetAnswer> => {
    const userId = userIdOf(event);
    return { user_id: userId, status: 'forgotten', interactions: await changes.forget(userId) };
  };
  const unmark = async (event: ApiEvent): Promise<UnmarkAnswer> => {
    const userId = userIdOf(event);
    const unmarked = await changes.unmark(userId);
    if (unmarked === null) throw new RequestError(404, 'not_found', 'no interaction was ever recorded for this user_id');
    const internal = await isInternalNow(deps.db, deps.config.internal, userId);
    return { user_id: userId, status: 'unmarked', interactions: unmarked.interactions, internal };
  };
  return familyHandler({ '/users': forget, '/internal-users': unmark }, deps.log);
}

export const handler = lazyAwsDeps((deps) => createUsersHandler({ ...deps, changes: changeUnderLease(awsFoldDeps(deps)) }));
