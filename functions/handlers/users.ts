import * as z from 'zod/mini';
import { storedUserId, UserIdSchema } from '../core/interaction.js';
import type { ForgetAnswer, UnmarkAnswer } from '../core/users.js';
import type { SnapshotStore } from '../core/snapshot.js';
import { snapshotTableFromEnv } from '../aws/snapshot-table.js';
import { forgetUser, isInternalNow, unmarkInternalUser } from '../db/users.js';
import { invalid, RequestError, type ApiEvent, type ApiHandler } from './http.js';
import { familyHandler } from './routes.js';
import { lazyAwsDeps } from './runtime.js';
import type { ServiceDeps } from './service.js';
import { markSnapshotStale } from './stale-mark.js';

export interface UsersDeps extends ServiceDeps {
  /** The publisher's snapshot, marked stale before a user's figures change (AWS: DynamoDB; locally: memory). */
  snapshots?: Pick<SnapshotStore, 'markStale'>;
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

/** (adapter) DELETE /users, DELETE /internal-users --> mark the snapshot stale --> one statement --> what changed. */
export function createUsersHandler(deps: UsersDeps): ApiHandler {
  const forget = async (event: ApiEvent): Promise<ForgetAnswer> => {
    const userId = userIdOf(event);
    await markSnapshotStale(deps.snapshots, deps.now(), deps.log);
    return { user_id: userId, status: 'forgotten', interactions: await forgetUser(deps.db, userId) };
  };
  const unmark = async (event: ApiEvent): Promise<UnmarkAnswer> => {
    const userId = userIdOf(event);
    await markSnapshotStale(deps.snapshots, deps.now(), deps.log);
    const unmarked = await unmarkInternalUser(deps.db, userId);
    if (unmarked === null) throw new RequestError(404, 'not_found', 'no interaction was ever recorded for this user_id');
    const internal = await isInternalNow(deps.db, deps.config.internal, userId);
    return { user_id: userId, status: 'unmarked', interactions: unmarked.interactions, internal };
  };
  return familyHandler({ '/users': forget, '/internal-users': unmark }, deps.log);
}

export const handler = lazyAwsDeps((deps) => createUsersHandler({ ...deps, snapshots: snapshotTableFromEnv(process.env) }));
