import { fileURLToPath } from 'node:url';
import type { Database, DatabaseUnavailableError } from '../db/port.js';
import { lockDataDir } from './data-dir-lock.js';

// PGlite's WebAssembly, node-postgres and the migrations load when the database opens, after the port has opened.
const migrations = async () => {
  const { loadSchema, migrate } = await import('../db/migrate.js');
  return { migrate, all: await loadSchema(SQL_DIR) };
};

export const SQL_DIR = fileURLToPath(new URL('../../sql/', import.meta.url));

type Env = Readonly<Record<string, string | undefined>>;

/** The oldest PostgreSQL the SQL is proven on: the major version Aurora runs. */
export const OLDEST_POSTGRES = 16;

export interface LocalDatabase {
  db: Database;
  /** Where the data lives, for the startup banner: never the password. */
  describe: string;
  /** One statement at a time (PGlite): anything sent waits behind the statement running. */
  serial: boolean;
}

export interface LocalDatabaseOptions {
  dataDir: string;
  /** PGlite's shared_buffers. */
  sharedBuffers?: string;
  /** PGlite in a folder waits for the disk at each commit (default on). */
  fsync?: boolean;
  /** PostgreSQL's statement_timeout on the serving connections; 0: none. */
  statementTimeoutMs?: number;
  /** Told if the database is lost for good while serving (PGlite's thread stopped): the server must stop. */
  onLost?: (error: DatabaseUnavailableError) => void;
}

/** A database taken for this server but not yet open: the port can be opened meanwhile. */
export interface ClaimedDatabase {
  /** Where the data lives, before it is open: for the banner. */
  where: string;
  /** Opens it and applies the migrations. */
  open(): Promise<LocalDatabase>;
  /** Gives the claim back when the database is not to be opened after all. */
  release(): Promise<void>;
}

/**
 * The database `npm start` serves from: PostgreSQL at DATABASE_URL when it is set, otherwise embedded PGlite in
 * `dataDir` (a folder, or `memory`). What must be settled before the port opens is settled here: a folder in use
 * by another server is refused now, not after the port has been taken.
 */
export async function claimLocalDatabase(env: Env, options: LocalDatabaseOptions): Promise<ClaimedDatabase> {
  const url = env.DATABASE_URL?.trim();
  if (url) {
    const note = env.DATA_DIR?.trim() ? ' (DATA_DIR is ignored)' : '';
    return { where: `PostgreSQL at ${maskPassword(url)}${note}`, open: () => openServer(url, note, options), release: async () => {} };
  }
  const { dataDir } = options;
  // One server per folder: a second PGlite on the same files destroys the database. Released when the database closes.
  const lock = dataDir === 'memory' ? null : await lockDataDir(dataDir);
  return {
    where: dataDir === 'memory' ? 'PGlite in memory (lost on exit)' : `PGlite in ${dataDir}`,
    open: () => openEmbedded(options, lock),
    release: async () => await lock?.release(),
  };
}

/** Claims and opens at once: for callers that have no port to open in between (tests, tools). */
export async function openLocalDatabase(env: Env, options: LocalDatabaseOptions): Promise<LocalDatabase> {
  const claimed = await claimLocalDatabase(env, options);
  return claimed.open();
}

async function openEmbedded(
  { dataDir, sharedBuffers, fsync = true, onLost }: LocalDatabaseOptions,
  lock: { release(): Promise<void> } | null,
): Promise<LocalDatabase> {
  const { openPglite } = await import('../db/pglite.js');
  const pglite = await openPglite(dataDir, { sharedBuffers, thread: true, onLost, durable: fsync }).catch(async (error: unknown) => {
    await lock?.release();
    throw error;
  });
  const db: Database = {
    ...pglite,
    async close() {
      await pglite.close();
      await lock?.release();
    },
  };
  try {
    const { migrate, all } = await migrations();
    await migrate(db, all);
    // PGlite has no autoanalyze: the adapter stands in for it as tables grow, and catches up here before serving.
    await pglite.statistics.analyzeGrownTables();
  } catch (error) {
    await db.close();
    throw error;
  }
  return { db, describe: dataDir === 'memory' ? 'PGlite in memory (lost on exit)' : `PGlite in ${dataDir}`, serial: true };
}

// No ANALYZE at start here: a real server's autovacuum keeps the statistics (and ANALYZE needs rights on every table).
async function openServer(url: string, note: string, { statementTimeoutMs = 0 }: LocalDatabaseOptions): Promise<LocalDatabase> {
  const shown = maskPassword(url);
  const { openPostgres } = await import('../db/postgres.js');
  // Migrations on a connection of their own, without the statement timeout: an index built on a large table takes longer.
  const setup = openPostgres(url, { maxConnections: 1 });
  try {
    const [server] = await setup.query<{ version: string; number: string }>(
      "SELECT current_setting('server_version') AS version, current_setting('server_version_num') AS number",
    );
    const version = server!.version.split(' ')[0]!;
    refuseOldServer(Number(server!.number), version);
    const { migrate, all } = await migrations();
    await migrate(setup, all);
    return { db: openPostgres(url, { statementTimeoutMs }), describe: `PostgreSQL ${version} at ${shown}${note}`, serial: false };
  } catch (error) {
    throw new Error(`DATABASE_URL ${shown}: ${withoutPassword((error as Error).message, url)}`);
  } finally {
    await setup.close();
  }
}

/** `server_version_num` is e.g. 160014 for 16.14. */
export function refuseOldServer(versionNumber: number, version: string): void {
  if (Math.floor(versionNumber / 10_000) >= OLDEST_POSTGRES) return;
  throw new Error(`the server runs PostgreSQL ${version}; days-since needs PostgreSQL ${OLDEST_POSTGRES} or newer`);
}

/** The URL as it may be printed: the password replaced by ***. */
export function maskPassword(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return 'postgres://(a URL that does not parse)';
  }
}

/** A driver message with every spelling of the URL's password taken out. */
function withoutPassword(message: string, url: string): string {
  let spellings: string[];
  try {
    const { password } = new URL(url);
    spellings = password ? [password, safeDecode(password)] : [];
  } catch {
    spellings = [url];
  }
  return spellings.reduce((text, spelling) => text.replaceAll(spelling, '***'), message);
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
