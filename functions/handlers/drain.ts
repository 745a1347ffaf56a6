import { dataApiDatabase, DEFAULT_RETRY } from '../db/data-api.js';
import { maintainFoldedTables, type MaintenanceReport } from '../db/maintenance.js';
import type { Database } from '../db/port.js';
import { foldBuffer, type FoldDeps } from './fold.js';
import { awsFoldDeps } from './aws-folding.js';
import { dataApiTargetFromEnv, lazyAwsDeps, rdsDataClient, timeLeftInInvocation } from './runtime.js';

/** Maintenance starts only with this much of the invocation left; what it cannot do now, the next fold does. */
export const MAINTENANCE_TIME_MS = 30_000;

export interface DrainDeps extends FoldDeps {
  /** The database for VACUUM and ANALYZE: statements that may run past the Data API's 45 s call. */
  maintenanceDb: Database;
}

export interface DrainReport {
  folded: number;
  left: number;
  maintenance: MaintenanceReport | null;
}

/**
 * (adapter) schedule --> fold the buffer into Aurora --> maintenance while Aurora is awake. With nothing buffered it never
 * calls Aurora, so Aurora sleeps. A failed run throws (its errors are counted) and the next run folds what is still there.
 */
export function createDrainHandler(deps: DrainDeps): () => Promise<DrainReport> {
  return async () => {
    const [pending, record] = await Promise.all([deps.buffer.pending(), deps.snapshots.read()]);
    if (pending.length === 0) {
      deps.log.info('nothing buffered: Aurora not called');
      return { folded: 0, left: 0, maintenance: null };
    }
    const fold = await foldBuffer(deps);
    let maintenance: MaintenanceReport | null = null;
    if (deps.deadline() - deps.now().getTime() > MAINTENANCE_TIME_MS) {
      try {
        maintenance = await maintainFoldedTables(deps.maintenanceDb);
      } catch (error) {
        // A VACUUM past the call's 45 s goes on in Aurora (continueAfterTimeout); anything else is tried again next fold.
        deps.log.warn('maintenance did not finish in this run', { errorName: (error as Error)?.name ?? typeof error });
      }
    }
    deps.log.info('folded', { folded: fold.folded, left: fold.left, waitingBefore: pending.length - (record?.folded.size ?? 0), maintenance });
    return { folded: fold.folded, left: fold.left, maintenance };
  };
}

export const handler = lazyAwsDeps((deps) =>
  createDrainHandler({
    ...awsFoldDeps(deps),
    maintenanceDb: dataApiDatabase(rdsDataClient(), dataApiTargetFromEnv(process.env), DEFAULT_RETRY, {
      continueAfterTimeout: true,
      timeLeft: timeLeftInInvocation,
    }),
  }),
);
