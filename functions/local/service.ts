import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { Logger } from '@aws-lambda-powertools/logger';
import { ConfigError, loadConfig, numberFromEnv, type Config } from '../core/config.js';
import { openApiDocument } from '../core/openapi.js';
import { PGLITE_SETTINGS } from '../db/pglite.js';
import { DatabaseUnavailableError, type Database } from '../db/port.js';
import { createHealthHandler, type NotReady } from '../handlers/health.js';
import { jsonResult, unavailableResult, type ApiHandler } from '../handlers/http.js';
import { createIngestHandler } from '../handlers/ingest.js';
import { createMetricsHandler } from '../handlers/metrics.js';
import { ROUTES, type RouteFamily } from '../handlers/routes.js';
import type { ServiceDeps } from '../handlers/service.js';
import { claimLocalDatabase } from './database.js';
import { loadLoopSettings, localAlertingDeps, startPublisherLoop, type Print, type PublisherLoop } from './loop.js';
import { statusPages } from './page/assets.js';
import { DEFAULT_READINESS, watchDatabase, type WatchedDatabase } from './readiness.js';
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
  /** With DATABASE_URL: PostgreSQL's statement_timeout on the serving connections, in ms; 0 for none. */
  statementTimeoutMs: number;
  apiKey: string | undefined;
}

/** A size as PostgreSQL reads it: a whole number and a unit. */
const POSTGRES_SIZE = /^[1-9][0-9]*(kB|MB|GB)$/;

/**
 * STATEMENT_TIMEOUT_SECONDS' default: the slowest statement `npm run bench` saw over HTTP with DATABASE_URL (a batch of
 * 500 while four clients send theirs, on two shared cores) took about 3 s; this leaves room above it.
 */
const STATEMENT_TIMEOUT_SECONDS = 10;

export function loadLocalSettings(env: Env): LocalSettings {
  return {
    host: env.HOST?.trim() || '127.0.0.1',
    port: numberFromEnv(env, 'PORT', 9001, { integer: true }),
    dataDir: env.DATA_DIR?.trim() || './.data',
    pgliteSharedBuffers: sizeFromEnv(env, 'PGLITE_SHARED_BUFFERS', PGLITE_SETTINGS.shared_buffers!),
    statementTimeoutMs: Math.round(numberFromEnv(env, 'STATEMENT_TIMEOUT_SECONDS', STATEMENT_TIMEOUT_SECONDS) * 1000),
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

/** The service with its port open, before and while its database opens. */
export interface ListeningService {
  url: string;
  /** Where the data lives, as far as it is known before it opens. */
  database: string;
  /** The service, once its database is open and migrated; rejects if it cannot be (the port is closed by then). */
  ready: Promise<LocalService>;
  /** Settles if the database is lost for good while serving (PGlite's thread died): the process should then stop, non-zero. */
  lost: Promise<DatabaseUnavailableError>;
  /** As LocalService's; while the database opens, waits for it, then closes it. */
  close(graceMs?: number): Promise<void>;
}

/** Retry-After while the database opens: PGlite opens in seconds (its buffers are allocated whole), a server in less. */
const OPENING_RETRY_AFTER_SECONDS = 5;

type Phase =
  | { name: 'starting' }
  | { name: 'serving'; watched: WatchedDatabase; handlers: Record<RouteFamily, ApiHandler> }
  | { name: 'lost'; error: DatabaseUnavailableError }
  | { name: 'stopping' };

/**
 * Opens the port at once, then the database (PGlite, or PostgreSQL at DATABASE_URL) and its migrations, and serves the
 * Lambda handlers over HTTP. Until the database is open, /healthz answers 503 "starting" and every data route 503 with
 * Retry-After, so a client (or a supervisor) sees a server that is coming, not a refused connection. A busy port, a
 * folder held by another server or a bad setting fail at once.
 */
export async function listenLocalService(
  env: Env,
  { print = console.log, ...overrides }: Partial<Pick<ServiceDeps, 'now' | 'log'>> & { print?: Print } = {},
): Promise<ListeningService> {
  const config = loadConfig(env);
  const settings = loadLocalSettings(env);
  const loopSettings = loadLoopSettings(env);
  let phase: Phase = { name: 'starting' };
  let reportLost!: (error: DatabaseUnavailableError) => void;
  const lost = new Promise<DatabaseUnavailableError>((resolve) => (reportLost = resolve));
  const claimed = await claimLocalDatabase(env, {
    dataDir: settings.dataDir,
    sharedBuffers: settings.pgliteSharedBuffers,
    statementTimeoutMs: settings.statementTimeoutMs,
    onLost(error) {
      if (phase.name !== 'stopping') phase = { name: 'lost', error };
      reportLost(error);
    },
  });
  const log = overrides.log ?? new Logger({ serviceName: 'days-since', logLevel: env.LOG_LEVEL?.toUpperCase() === 'DEBUG' ? 'DEBUG' : 'WARN' });

  async function notReady(): Promise<NotReady | null> {
    switch (phase.name) {
      case 'starting':
        return { status: 'starting', message: `the database is opening (${claimed.where})`, retryAfterSeconds: OPENING_RETRY_AFTER_SECONDS };
      case 'stopping':
        return { status: 'stopping', message: 'the server is stopping', retryAfterSeconds: OPENING_RETRY_AFTER_SECONDS };
      case 'lost':
        return { status: 'unavailable', message: phase.error.message, retryAfterSeconds: phase.error.retryAfterSeconds };
      case 'serving': {
        const outage = await phase.watched.check();
        return outage && { status: 'unavailable', message: outage.message, retryAfterSeconds: outage.retryAfterSeconds };
      }
    }
  }
  const health = createHealthHandler(notReady);
  // The route families, once the database is open; until then a 503 that says it is opening.
  let serving: Record<RouteFamily, ApiHandler> | null = null;
  const opening = new DatabaseUnavailableError(OPENING_RETRY_AFTER_SECONDS, `the database is opening (${claimed.where}); retry shortly`, 'starting');
  const family =
    (name: Exclude<RouteFamily, 'health'>): ApiHandler =>
    (event) =>
      serving ? serving[name](event) : Promise.resolve(unavailableResult(opening));
  const server = createLocalServer({
    handlers: { ingest: family('ingest'), metrics: family('metrics'), health },
    apiKey: settings.apiKey,
    localPages: {
      ...statusPages({ ...config, apiKeyRequired: settings.apiKey !== undefined }),
      '/openapi.json': { read: async () => jsonResult(200, openApiDocument(ROUTES)) },
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(settings.port, settings.host, resolve);
  }).catch(async (error: unknown) => {
    await claimed.release();
    throw error;
  });
  const { port } = server.address() as AddressInfo;
  const host = settings.host.includes(':') ? `[${settings.host}]` : settings.host;
  const url = `http://${host}:${port}`;

  let loop: PublisherLoop | null = null;
  let closeDb: () => Promise<void> = async () => {};
  const ready = (async (): Promise<LocalService> => {
    let opened;
    try {
      opened = await claimed.open();
    } catch (error) {
      await closeLocalServer(server);
      throw error;
    }
    const { db, describe, serial } = opened;
    closeDb = () => db.close();
    // A server answers a probe beside running statements; PGlite only after them, so a running one shows it is busy.
    const watched = watchDatabase(db, { ...DEFAULT_READINESS, busyMs: serial ? DEFAULT_READINESS.busyMs : 0 });
    const deps: ServiceDeps = { db: watched.db, config, now: () => new Date(), newEventId: randomUUID, log, ...overrides };
    // The publisher's snapshot: the local ingest marks it stale, as in AWS.
    const snapshots = memorySnapshotStore();
    serving = { ingest: createIngestHandler({ ...deps, snapshots }), metrics: createMetricsHandler(deps), health };
    if (phase.name === 'starting') phase = { name: 'serving', watched, handlers: serving };
    // Locally the status page stands in for the CloudWatch dashboard the messages link to.
    const alerting = localAlertingDeps(deps, { ...loopSettings, dashboardUrl: loopSettings.dashboardUrl ?? `${url}/` }, print, snapshots);
    loop = loopSettings.intervalMs > 0 && phase.name === 'serving' ? startPublisherLoop(alerting, loopSettings.intervalMs, print) : null;
    return { url, db: watched.db, database: describe, config, settings, deps, loop, close };
  })();
  ready.catch(() => {});

  let closing: Promise<void> | null = null;
  async function close(graceMs?: number): Promise<void> {
    closing ??= (async () => {
      phase = { name: 'stopping' };
      await closeLocalServer(server, graceMs);
      // Opening cannot be cut short (a half-made cluster would not open again): wait for it, then close.
      if (!(await ready.then(() => true, () => false))) return;
      await (loop as PublisherLoop | null)?.stop();
      await closeDb();
    })();
    return closing;
  }

  return { url, database: claimed.where, ready, lost, close };
}

/** Opens the port and the database, and resolves once it serves: for tests and tools that need the database open. */
export async function startLocalService(env: Env, options: Parameters<typeof listenLocalService>[1] = {}): Promise<LocalService> {
  const listening = await listenLocalService(env, options);
  return listening.ready;
}
