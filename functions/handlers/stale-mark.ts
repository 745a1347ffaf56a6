import { RECORDING_WINDOW_MS, type SnapshotStore } from '../core/snapshot.js';
import { DatabaseUnavailableError } from '../db/port.js';
import type { ServiceDeps } from './service.js';

/** Seconds a client waits before retrying when the snapshot could not be marked stale. */
const MARK_RETRY_AFTER_SECONDS = 5;

/**
 * Marks the publisher's snapshot stale before a write that changes the figures (recording, forgetting, unmarking), and
 * refuses the write when it cannot: a 2xx then always means the next publish includes it. No store: nothing to mark.
 */
export async function markSnapshotStale(snapshots: Pick<SnapshotStore, 'markStale'> | undefined, now: Date, log: ServiceDeps['log']): Promise<void> {
  if (!snapshots) return;
  try {
    await snapshots.markStale(new Date(now.getTime() + RECORDING_WINDOW_MS));
  } catch (error) {
    log.warn('could not mark the snapshot stale: nothing written', { errorName: (error as Error)?.name ?? typeof error });
    throw new DatabaseUnavailableError(MARK_RETRY_AFTER_SECONDS);
  }
}
