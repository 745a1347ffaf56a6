import { Construct } from 'constructs';
import type { RouteFamily } from '../functions/handlers/routes.js';
import type { DaysSinceDatabase } from './database.js';
import { ServiceFunction } from './service-function.js';
import type { InteractionBufferTable } from './buffer.js';
import type { SnapshotStore } from './snapshot-store.js';
import type { DeploySettings } from './settings.js';

export interface ApiFunctionsProps {
  database: DaysSinceDatabase;
  /** Ingest writes into it; metrics reads it with the snapshot, and folds it before reading Aurora. */
  buffer: InteractionBufferTable;
  snapshots: SnapshotStore;
  settings: DeploySettings;
}

/** The stateless part behind the API: one Lambda per route family (functions/handlers/routes.ts). */
export class ApiFunctions extends Construct {
  readonly byFamily: Record<RouteFamily, ServiceFunction>;

  constructor(scope: Construct, id: string, { database, buffer, snapshots, settings }: ApiFunctionsProps) {
    super(scope, id);
    const { logRetention, metricEnvironment: environment } = settings;
    const fn = (id: string, entry: string, description: string) => new ServiceFunction(this, id, { entry, description, logRetention, environment });
    this.byFamily = {
      // Never Aurora: it answers from DynamoDB whatever Aurora's state.
      ingest: fn('Ingest', 'ingest', 'days-since: POST /metrics/interaction and /metrics/interactions (into the buffer)').bindIngest(buffer),
      metrics: fn('Metrics', 'metrics', 'days-since: GET /metrics/... (the headline, summary, milestones, history)')
        .bindDatabase(database)
        .bindFolding(buffer, snapshots),
      // Forgetting and unmarking change Aurora and the buffer under the fold's lease, then take a new snapshot.
      users: fn('Users', 'users', 'days-since: DELETE /users (forget a user) and /internal-users (take back context.internal)')
        .bindDatabase(database)
        .bindUserChanges(buffer, snapshots),
      // Liveness only: no database, no configuration.
      health: new ServiceFunction(this, 'Health', { entry: 'health', description: 'days-since: GET /healthz', logRetention, memorySize: 128 }),
    };
  }
}
