import { bufferTable } from '../../functions/aws/buffer-table.js';
import { foldLeaseItem, snapshotTable } from '../../functions/aws/snapshot-table.js';
import { baselineOf } from '../../functions/db/alerts.js';
import type { Database } from '../../functions/db/port.js';
import { createDrainHandler } from '../../functions/handlers/drain.js';
import { bufferedFigures } from '../../functions/handlers/figures.js';
import { foldBuffer, type FoldDeps } from '../../functions/handlers/fold.js';
import { acceptIntoBuffer, createIngestHandler } from '../../functions/handlers/ingest.js';
import { createMetricsHandler } from '../../functions/handlers/metrics.js';
import type { ServiceDeps } from '../../functions/handlers/service.js';
import { createBufferTable, createSnapshotTable, type DynamoStandIn } from './dynalite.js';
import { testDeps } from './harness.js';

/**
 * The service wired as in AWS (functions/handlers/runtime.ts), over any database: ingest into the buffer, figures from
 * snapshot + buffer, the fold, the drain. Its own pair of tables in the given dynalite.
 */
export async function bufferedService(
  db: Database,
  dynamo: DynamoStandIn,
  overrides: Partial<ServiceDeps> & { env?: Record<string, string>; tables?: { buffer: string; figures: string } } = {},
) {
  const [bufferName, figuresName] = overrides.tables
    ? [overrides.tables.buffer, overrides.tables.figures]
    : await Promise.all([createBufferTable(dynamo.client), createSnapshotTable(dynamo.client)]);
  const deps = testDeps(db, overrides);
  const buffer = bufferTable(dynamo.client, bufferName);
  const snapshots = snapshotTable(dynamo.client, figuresName);
  const lease = foldLeaseItem(dynamo.client, figuresName);
  const baseline = baselineOf(db, deps.config);
  // A minute per invocation, on the service's own clock.
  const foldDeps: FoldDeps = { ...deps, buffer, snapshots, lease, baseline, deadline: () => deps.now().getTime() + 60_000 };
  const fold = async () => (await foldBuffer(foldDeps)).record;
  const figures = bufferedFigures({ ...deps, snapshots, pending: () => buffer.pending(), fold, baseline });
  return {
    deps,
    tables: { buffer: bufferName, figures: figuresName },
    buffer,
    snapshots,
    lease,
    foldDeps,
    figures,
    fold,
    ingest: createIngestHandler({ ...deps, accept: acceptIntoBuffer(buffer, deps.log) }),
    metrics: createMetricsHandler({ ...deps, figures }),
    drain: createDrainHandler({ ...foldDeps, maintenanceDb: db }),
  };
}

export type BufferedService = Awaited<ReturnType<typeof bufferedService>>;
