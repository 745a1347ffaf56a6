import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Logger } from '@aws-lambda-powertools/logger';
import { loadConfig, numberFromEnv, type Config } from '../core/config.js';
import { openApiDocument } from '../core/openapi.js';
import { loadMigrations, migrate } from '../db/migrate.js';
import { openPglite } from '../db/pglite.js';
import type { Database } from '../db/port.js';
import { handler as health } from '../handlers/health.js';
import { jsonResult } from '../handlers/http.js';
import { createIngestHandler } from '../handlers/ingest.js';
import { createMetricsHandler } from '../handlers/metrics.js';
import { ROUTES } from '../handlers/routes.js';
import type { ServiceDeps } from '../handlers/service.js';
import { loadLoopSettings, localAlertingDeps, startPublisherLoop, type Print, type PublisherLoop } from './loop.js';
import { statusPages } from './page/assets.js';
import { memorySnapshotStore } from './snapshot-store.js';
import { createLocalServer } from './server.js';

export const SQL_DIR = fileURLToPath(new URL('../../sql/', import.meta.url));

type Env = Readonly<Record<string, string | undefined>>;

export interface LocalSettings {
  host: string;
  port: number;
  dataDir: string;
  apiKey: string | undefined;
}

export function loadLocalSettings(env: Env): LocalSettings {
  return {
    host: env.HOST?.trim() || '127.0.0.1',
    port: numberFromEnv(env, 'PORT', 9001, { integer: true }),
    dataDir: env.DATA_DIR?.trim() || './.data',
    apiKey: env.API_KEY?.trim() || undefined,
  };
}

export interface LocalService {
  url: string;
  db: Database;
  config: Config;
  settings: LocalSettings;
  deps: ServiceDeps;
  /** The 5-minute publisher loop; null when PUBLISH_INTERVAL_SECONDS=0. */
  loop: PublisherLoop | null;
  close(): Promise<void>;
}

/** Opens the embedded database, applies migrations, and serves the Lambda handlers over HTTP. */
export async function startLocalService(
  env: Env,
  { print = console.log, ...overrides }: Partial<Pick<ServiceDeps, 'now' | 'log'>> & { print?: Print } = {},
): Promise<LocalService> {
  const config = loadConfig(env);
  const settings = loadLocalSettings(env);
  const loopSettings = loadLoopSettings(env);
  const db = await openPglite(settings.dataDir);
  try {
    await migrate(db, await loadMigrations(SQL_DIR));
    // PGlite has no autovacuum: fresh statistics once at start keep the planner on the indexes.
    await db.query('ANALYZE');
  } catch (error) {
    await db.close();
    throw error;
  }
  const deps: ServiceDeps = {
    db,
    config,
    now: () => new Date(),
    newEventId: randomUUID,
    log: new Logger({ serviceName: 'days-since', logLevel: env.LOG_LEVEL?.toUpperCase() === 'DEBUG' ? 'DEBUG' : 'WARN' }),
    ...overrides,
  };
  // The publisher's snapshot: the local ingest marks it stale, as in AWS.
  const snapshots = memorySnapshotStore();
  const server = createLocalServer({
    handlers: { ingest: createIngestHandler({ ...deps, snapshots }), metrics: createMetricsHandler(deps), health },
    apiKey: settings.apiKey,
    localPages: {
      ...statusPages({ ...config, apiKeyRequired: settings.apiKey !== undefined }),
      '/openapi.json': async () => jsonResult(200, openApiDocument(ROUTES)),
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(settings.port, settings.host, resolve);
  });
  const { port } = server.address() as AddressInfo;
  const host = settings.host.includes(':') ? `[${settings.host}]` : settings.host;
  // Locally the status page stands in for the CloudWatch dashboard the messages link to.
  const alerting = localAlertingDeps(deps, { ...loopSettings, dashboardUrl: loopSettings.dashboardUrl ?? `http://${host}:${port}/` }, print, snapshots);
  const loop = loopSettings.intervalMs > 0 ? startPublisherLoop(alerting, loopSettings.intervalMs, print) : null;
  return {
    url: `http://${host}:${port}`,
    db,
    config,
    settings,
    deps,
    loop,
    async close() {
      await loop?.stop();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await db.close();
    },
  };
}
