import { Construct } from 'constructs';
import type { RouteFamily } from '../functions/handlers/routes.js';
import type { DaysSinceDatabase } from './database.js';
import { ServiceFunction } from './service-function.js';
import type { SnapshotStore } from './snapshot-store.js';
import type { DeploySettings } from './settings.js';

export interface ApiFunctionsProps {
  database: DaysSinceDatabase;
  /** Ingest marks it stale before recording. */
  snapshots: SnapshotStore;
  settings: DeploySettings;
}

/** The stateless part behind the API: one Lambda per route family (functions/handlers/routes.ts). */
export class ApiFunctions extends Construct {
  readonly byFamily: Record<RouteFamily, ServiceFunction>;

  constructor(scope: Construct, id: string, { database, snapshots, settings }: ApiFunctionsProps) {
    super(scope, id);
    const { logRetention, metricEnvironment: environment } = settings;
    // Ingest and metrics read the configuration and reach the database.
    const withDatabase = (id: string, entry: string, description: string) =>
      new ServiceFunction(this, id, { entry, description, logRetention, environment }).bindDatabase(database);
    this.byFamily = {
      ingest: withDatabase('Ingest', 'ingest', 'days-since: POST /metrics/interaction and /metrics/interactions').bindSnapshots(snapshots, 'stale-mark'),
      metrics: withDatabase('Metrics', 'metrics', 'days-since: GET /metrics/... (the headline, summary, milestones, history)'),
      // Forgetting and unmarking change the figures: they mark the snapshot stale first, as ingest does.
      users: withDatabase('Users', 'users', 'days-since: DELETE /users (forget a user) and /internal-users (take back context.internal)').bindSnapshots(
        snapshots,
        'stale-mark',
      ),
      // Liveness only: no database, no configuration.
      health: new ServiceFunction(this, 'Health', { entry: 'health', description: 'days-since: GET /healthz', logRetention, memorySize: 128 }),
    };
  }
}
