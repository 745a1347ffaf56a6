import type { Env } from '../handlers/runtime.js';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { ConfigError, loadConfig, numberFromEnv, type Config } from '../core/config.js';
import { PGLITE_SETTINGS } from '../db/pglite-settings.js';
import { DatabaseUnavailableError, type Database } from '../db/port.js';
import { createHealthHandler, type NotReady } from '../handlers/health.js';
import { jsonResult, unavailableResult, type ApiHandler } from '../handlers/http.js';
import { ROUTES, type RouteFamily } from '../handlers/routes.js';
import type { ServiceDeps } from '../handlers/service.js';
import { claimLocalDatabase } from './database.js';
import type { Print, PublisherLoop } from './loop.js';
import { statusPages } from './page/assets.js';
import { DEFAULT_READINESS, watchDatabase, type WatchedDatabase } from './readiness.js';
import { closeLocalServer, createLocalServer, noRequestsInFlight } from './server.js';

// What only serving needs (the handlers and their schemas, the logger, the publisher loop, the OpenAPI document) loads
// after the port is open: on two busy cores importing it all took seconds, and the port stayed closed meanwhile.
const servingModules = () =>
  Promise.all([
    import('@aws-lambda-powertools/logger'),
    import('../handlers/ingest.js'),
    import('../handlers/metrics.js'),
    import('./loop.js'),
    import('./snapshot-store.js'),
    import('../handlers/users.js'),
  ]);

export { SQL_DIR } from './database.js';


export interface LocalSettings {
  host: string;
  port: number;
  dataDir: string;
  /** PGlite's shared_buffers, as PostgreSQL writes sizes ("1GB", "256MB"). */
  pgliteSharedBuffers: string;
  /** PGlite in a folder waits for the disk at each commit (DURABLE_SETTINGS): PGLITE_FSYNC, on unless `off`. */
  pgliteFsync: boolean;
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
    pgliteFsync: switchFromEnv(env, 'PGLITE_FSYNC', true),
    statementTimeoutMs: Math.round(numberFromEnv(env, 'STATEMENT_TIMEOUT_SECONDS', STATEMENT_TIMEOUT_SECONDS) * 1000),
    apiKey: env.API_KEY?.trim() || undefined,
  };
}

function switchFromEnv(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name]?.trim().toLowerCase();
  if (!raw) return fallback;
  if (raw !== 'on' && raw !== 'off') throw new ConfigError(name, `must be on or off, got "${env[name]!.trim()}"`);
  return raw === 'on';
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
  /**
   * Settles if the database is lost for good while serving (PGlite's thread died), once the server has answered what
   * was in flight (503s, with /healthz saying so) and closed: the process should then exit non-zero.
   */
  lost: Promise<DatabaseUnavailableError>;
  /** As LocalService's; while the database opens, waits for it, then closes it. */
  close(graceMs?: number): Promise<void>;
}

/** How long a server whose database is lost keeps answering requests already in flight (with 503s) before it closes. */
const LOST_GRACE_MS = 10_000;

/** Retry-After while the database opens: PGlite opens in seconds (its buffers are allocated whole), a server in less. */
const OPENING_RETRY_AFTER_SECONDS = 5;

type Phase =
  | { name: 'starting' }
  | { name: 'serving'; watched: WatchedDatabase }
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
  // MILESTONES_FILE is read here, once, as every other setting is.
  const config = loadConfig(env, (path) => readFileSync(path, 'utf8'));
  const settings = loadLocalSettings(env);
  let phase: Phase = { name: 'starting' };
  let reportLost!: (error: DatabaseUnavailableError) => void;
  const lost = new Promise<DatabaseUnavailableError>((resolve) => (reportLost = resolve));
  const claimed = await claimLocalDatabase(env, {
    dataDir: settings.dataDir,
    sharedBuffers: settings.pgliteSharedBuffers,
    fsync: settings.pgliteFsync,
    statementTimeoutMs: settings.statementTimeoutMs,
    onLost(error) {
      if (phase.name === 'stopping') return;
      phase = { name: 'lost', error };
      print(`The database is lost (${error.message}): answering what is in flight with 503, then stopping`);
      // Still listening meanwhile, so that a client in the middle of a request and anyone asking /healthz get a 503.
      void noRequestsInFlight(server, LOST_GRACE_MS)
        .then(() => close())
        .then(() => reportLost(error));
    },
  });
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
    handlers: { ingest: family('ingest'), metrics: family('metrics'), users: family('users'), health },
    apiKey: settings.apiKey,
    localPages: {
      ...statusPages({ ...config, apiKeyRequired: settings.apiKey !== undefined }),
      '/openapi.json': { read: async () => jsonResult(200, (await import('../core/openapi.js')).openApiDocument(ROUTES)) },
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
    // Side by side: PGlite opens on its own thread while this one loads the handlers.
    const openingDatabase = claimed.open();
    openingDatabase.catch(() => {});
    let modules;
    let loopSettings;
    try {
      modules = await servingModules();
      loopSettings = modules[3].loadLoopSettings(env);
    } catch (error) {
      await closeLocalServer(server);
      await openingDatabase.then((database) => database.db.close(), () => claimed.release());
      throw error;
    }
    const [
      { Logger },
      { createIngestHandler, recordAtOnce },
      { createMetricsHandler },
      { localAlertingDeps, startPublisherLoop },
      { memorySnapshotStore },
      { changeAtOnce, createUsersHandler },
    ] = modules;
    let opened;
    try {
      opened = await openingDatabase;
    } catch (error) {
      await closeLocalServer(server);
      throw error;
    }
    const log = overrides.log ?? new Logger({ serviceName: 'days-since', logLevel: env.LOG_LEVEL?.toUpperCase() === 'DEBUG' ? 'DEBUG' : 'WARN' });
    const { db, describe, serial } = opened;
    closeDb = () => db.close();
    // A server answers a probe beside running statements; PGlite only after them, so a running one shows it is busy.
    const watched = watchDatabase(db, { ...DEFAULT_READINESS, busyMs: serial ? DEFAULT_READINESS.busyMs : 0 });
    const deps: ServiceDeps = { db: watched.db, config, now: () => new Date(), newEventId: randomUUID, log, ...overrides };
    // The publisher's snapshot: out of date as soon as the local ingest records something.
    const snapshots = memorySnapshotStore();
    serving = {
      ingest: createIngestHandler({ ...deps, accept: recordAtOnce(deps, () => snapshots.invalidate()) }),
      metrics: createMetricsHandler(deps),
      users: createUsersHandler({ ...deps, changes: changeAtOnce(deps.db, () => snapshots.invalidate()) }),
      health,
    };
    if (phase.name === 'starting') phase = { name: 'serving', watched };
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
