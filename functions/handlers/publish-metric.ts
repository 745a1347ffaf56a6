import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { figuresOf, namespaceFromEnv, readingOf, type Figure, type Reading } from '../core/published-figures.js';
import { configFingerprint, freshnessOf, readingFromSnapshot, type SnapshotState, type SnapshotStore } from '../core/snapshot.js';
import { putFigures } from '../aws/cloudwatch.js';
import { snapshotTableFromEnv } from '../aws/snapshot-table.js';
import { baselineOf, readReading } from '../db/alerts.js';
import { DatabaseUnavailableError } from '../db/port.js';
import { takeSnapshot } from '../db/snapshot.js';
import { lazyAwsDeps } from './runtime.js';
import type { ServiceDeps } from './service.js';

/** What reading the number needs: the database only when the snapshot is stale. */
export interface SnapshotReadingDeps extends Pick<ServiceDeps, 'db' | 'config' | 'log'> {
  baseline: (now: Date) => Promise<Date>;
  snapshots: SnapshotStore;
}

export interface PublisherDeps extends ServiceDeps, SnapshotReadingDeps {
  /** Where the figures go: CloudWatch in AWS. */
  putFigures: (figures: readonly Figure[], at: Date) => Promise<void>;
}

const nameOf = (error: unknown) => (error as Error)?.name ?? typeof error;

/**
 * The reading at `now` from the snapshot while nothing was recorded since it was taken, so Aurora can pause;
 * otherwise from Aurora, keeping a new snapshot. Shared by the Lambda publisher and the local loop.
 */
export function snapshotReader(deps: SnapshotReadingDeps): (now: Date) => Promise<Reading> {
  const fingerprint = configFingerprint(deps.config);
  return async (now) => {
    let state: SnapshotState;
    try {
      state = await deps.snapshots.read();
    } catch (error) {
      // Without the store nothing says whether the snapshot is exact: read Aurora, as before snapshots.
      deps.log.warn('could not read the snapshot: reading the database', { errorName: nameOf(error) });
      return readReading(deps.db, deps.config, deps.baseline, now);
    }
    const freshness = freshnessOf(state, fingerprint, now);
    const last = state.record?.snapshot ?? null;
    if (freshness === 'fresh') return readingFromSnapshot(last!, now);

    let taken;
    try {
      taken = await takeSnapshot(deps.db, deps.config, fingerprint, deps.baseline, now);
    } catch (error) {
      // Aurora resuming: the last snapshot is exact for everything committed before its refresh, and what was
      // marked since is most likely still waiting for Aurora too. Never across a change of what counts.
      const usable = last !== null && last.fingerprint === fingerprint && now >= last.takenAt;
      if (!(error instanceof DatabaseUnavailableError) || !usable) throw error;
      deps.log.warn('published from the last snapshot: the database did not answer', { freshness, snapshotTakenAt: last.takenAt.toISOString() });
      return readingFromSnapshot(last, now);
    }
    if (taken.kind === 'over_bound') {
      deps.log.info('more monthly active users than a snapshot keeps: read the database', { mau: taken.pulse.mau });
      await saveQuietly(deps, { snapshot: null, seenWrites: state.writes });
      return readingOf(taken.pulse, taken.baseline, now);
    }
    await saveQuietly(deps, { snapshot: taken.snapshot, seenWrites: state.writes });
    deps.log.info('snapshot refreshed', { freshness, activeUsers: taken.snapshot.activeLastRealAt.length });
    return readingFromSnapshot(taken.snapshot, now);
  };
}

// A snapshot that could not be saved only costs the next run another database read.
async function saveQuietly(deps: SnapshotReadingDeps, record: Parameters<SnapshotStore['save']>[0]): Promise<void> {
  try {
    await deps.snapshots.save(record);
  } catch (error) {
    deps.log.warn('could not save the snapshot', { errorName: nameOf(error) });
  }
}

/** (adapter) schedule --> snapshot (or Aurora when it is stale) --> one PutMetricData call. Errors fail the run: the publisher alarm counts them. */
export function createPublishMetricHandler(deps: PublisherDeps): () => Promise<Reading> {
  const read = snapshotReader(deps);
  return async () => {
    const now = deps.now();
    const reading = await read(now);
    const figures = figuresOf(reading);
    await deps.putFigures(figures, now);
    deps.log.info('published', { figures: Object.fromEntries(figures.map((figure) => [figure.name, figure.value])) });
    return reading;
  };
}

export const handler = lazyAwsDeps((deps) => {
  const cloudWatch = new CloudWatchClient({});
  const namespace = namespaceFromEnv(process.env);
  return createPublishMetricHandler({
    ...deps,
    baseline: baselineOf(deps.db, deps.config),
    snapshots: snapshotTableFromEnv(process.env),
    putFigures: (figures, at) => putFigures(cloudWatch, namespace, figures, at),
  });
});
