import { bufferTableFromEnv } from '../aws/buffer-table.js';
import { foldLeaseItem, snapshotTable, snapshotTableName } from '../aws/snapshot-table.js';
import type { SnapshotRecord } from '../core/snapshot.js';
import { baselineOf } from '../db/alerts.js';
import { bufferedFigures, type FigureSource } from './figures.js';
import { foldBuffer, type FoldDeps } from './fold.js';
import { dynamoClient, invocationDeadline, type Env } from './runtime.js';
import type { ServiceDeps } from './service.js';

/** What folding needs in AWS: the buffer, the snapshot record and the fold's lease (tables named by the stack's bind… methods). */
export function awsFoldDeps(deps: ServiceDeps, env: Env = process.env): FoldDeps {
  const client = dynamoClient();
  const table = snapshotTableName(env);
  return {
    ...deps,
    buffer: bufferTableFromEnv(env, client),
    snapshots: snapshotTable(client, table),
    lease: foldLeaseItem(client, table),
    baseline: baselineOf(deps.db, deps.config),
    deadline: invocationDeadline,
  };
}

/** The figures as AWS reads them (snapshot + buffer), and the fold they fall back on. */
export function awsFigures(deps: ServiceDeps, env: Env = process.env): { figures: FigureSource; fold: () => Promise<SnapshotRecord> } {
  const foldDeps = awsFoldDeps(deps, env);
  const fold = async () => (await foldBuffer(foldDeps)).record;
  const figures = bufferedFigures({ ...deps, snapshots: foldDeps.snapshots, pending: () => foldDeps.buffer.pending(), fold, baseline: foldDeps.baseline });
  return { figures, fold };
}

