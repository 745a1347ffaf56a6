import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { Logger } from '@aws-lambda-powertools/logger';
import { ConfigError, loadConfig, numberFromEnv, type Config } from '../core/config.js';
import { openApiDocument } from '../core/openapi.js';
import { PGLITE_SETTINGS } from '../db/pglite.js';
import type { Database } from '../db/port.js';
import { handler as health } from '../handlers/health.js';
import { jsonResult } from '../handlers/http.js';
import { createIngestHandler, recordAtOnce } from '../handlers/ingest.js';
import { createMetricsHandler } from '../handlers/metrics.js';
import { ROUTES } from '../handlers/routes.js';
import { changeAtOnce, createUsersHandler } from '../handlers/users.js';
import type { ServiceDeps } from '../handlers/service.js';
import { openLocalDatabase } from './database.js';
import { loadLoopSettings, localAlertingDeps, startPublisherLoop, type Print, type PublisherLoop } from './loop.js';
import { statusPages } from './page/assets.js';
import { closeLocalServer, createLocalServer } from './server.js';
import { memorySnapshotStore } from './snapshot-store.js';

export { SQL_DIR } from './database.js';

type Env = Readonly<Record<string, string | undefined>>;

export interface LocalSettings {
  host: string;
  port: number;
  dataDir: string;
  /** PGlite's shared_buffers, as PostgreSQL writes sizes ("1GB", "256MB"). */
  pgliteSharedBuffers: string;
  apiKey: string | undefined;
}

/** A size as PostgreSQL reads it: a whole number and a unit. */
const POSTGRES_SIZE = /^[1-9][0-9]*(kB|MB|GB)$/;

export function loadLocalSettings(env: Env): LocalSettings {
  return {
    host: env.HOST?.trim() || '127.0.0.1',
    port: numberFromEnv(env, 'PORT', 9001, { integer: true }),
    dataDir: env.DATA_DIR?.trim() || './.data',
    pgliteSharedBuffers: sizeFromEnv(env, 'PGLITE_SHARED_BUFFERS', PGLITE_SETTINGS.shared_buffers!),
    apiKey: env.API_KEY?.trim() || undefined,
  };
}

function sizeFromEnv(env: Env, name: string, fallback: string): string {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  if (!POSTGRES_SIZE.test(raw)) throw new ConfigError(name, `must be a size such as 256MB or 1GB, got "${raw}"`);
  return raw;
}

export interface LocalService {
  url: string;
  db: Database;
  /** Where the data lives (PGlite folder or memory, or the PostgreSQL server with its password masked). */
  database: string;
  config: Config;
  settings: LocalSettings;
  deps: ServiceDeps;
  /** The 5-minute publisher loop; null when PUBLISH_INTERVAL_SECONDS=0. */
  loop: PublisherLoop | null;
  /** Stops accepting, answers requests in flight (for up to graceMs, default 10 s), stops the loop, closes the database. */
  close(graceMs?: number): Promise<void>;
}

/** Opens the database (PGlite, or PostgreSQL at DATABASE_URL), applies migrations, and serves the Lambda handlers over HTTP. */
export async function startLocalService(
  env: Env,
  { print = console.log, ...overrides }: Partial<Pick<ServiceDeps, 'now' | 'log'>> & { print?: Print } = {},
): Promise<LocalService> {
  // MILESTONES_FILE is read here, once, as every other setting is.
  const config = loadConfig(env, (path) => readFileSync(path, 'utf8'));
  const settings = loadLocalSettings(env);
  const loopSettings = loadLoopSettings(env);
  // PGlite's folder is locked inside: its close() releases the lock.
  const { db, describe: database } = await openLocalDatabase(env, settings.dataDir, settings.pgliteSharedBuffers);
  const closeDb = () => db.close();
  const deps: ServiceDeps = {
    db,
    config,
    now: () => new Date(),
    newEventId: randomUUID,
    log: new Logger({ serviceName: 'days-since', logLevel: env.LOG_LEVEL?.toUpperCase() === 'DEBUG' ? 'DEBUG' : 'WARN' }),
    ...overrides,
  };
  // The publisher's snapshot: out of date as soon as the local ingest records something.
  const snapshots = memorySnapshotStore();
  const server = createLocalServer({
    handlers: {
      ingest: createIngestHandler({ ...deps, accept: recordAtOnce(deps, () => snapshots.invalidate()) }),
      metrics: createMetricsHandler(deps),
      users: createUsersHandler({ ...deps, changes: changeAtOnce(deps.db, () => snapshots.invalidate()) }),
      health,
    },
    apiKey: settings.apiKey,
    localPages: {
      ...statusPages({ ...config, team: config.team, apiKeyRequired: settings.apiKey !== undefined }),
      '/openapi.json': async () => jsonResult(200, openApiDocument(ROUTES)),
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(settings.port, settings.host, resolve);
  }).catch(async (error: unknown) => {
    await closeDb();
    throw error;
  });
  const { port } = server.address() as AddressInfo;
  const host = settings.host.includes(':') ? `[${settings.host}]` : settings.host;
  // Locally the status page stands in for the CloudWatch dashboard the messages link to.
  const alerting = localAlertingDeps(deps, { ...loopSettings, dashboardUrl: loopSettings.dashboardUrl ?? `http://${host}:${port}/` }, print, snapshots);
  const loop = loopSettings.intervalMs > 0 ? startPublisherLoop(alerting, loopSettings.intervalMs, print) : null;
  return {
    url: `http://${host}:${port}`,
    db,
    database,
    config,
    settings,
    deps,
    loop,
    async close(graceMs?: number) {
      await closeLocalServer(server, graceMs);
      await loop?.stop();
      await closeDb();
    },
  };
}
