import { fileURLToPath } from 'node:url';
import { loadSchema, migrate } from '../db/migrate.js';
import { openPglite } from '../db/pglite.js';
import type { Database } from '../db/port.js';
import { openPostgres } from '../db/postgres.js';
import { lockDataDir } from './data-dir-lock.js';

export const SQL_DIR = fileURLToPath(new URL('../../sql/', import.meta.url));

type Env = Readonly<Record<string, string | undefined>>;

/** The oldest PostgreSQL the SQL is proven on: the major version Aurora runs. */
export const OLDEST_POSTGRES = 16;

export interface LocalDatabase {
  db: Database;
  /** Where the data lives, for the startup banner: never the password. */
  describe: string;
}

/**
 * The database `npm start` serves from, migrated: PostgreSQL at DATABASE_URL when it is set, otherwise
 * embedded PGlite in `dataDir` (a folder, or `memory`).
 */
export async function openLocalDatabase(env: Env, dataDir: string, sharedBuffers?: string): Promise<LocalDatabase> {
  const url = env.DATABASE_URL?.trim();
  return url ? openServer(url, env.DATA_DIR?.trim() ? ' (DATA_DIR is ignored)' : '') : openEmbedded(dataDir, sharedBuffers);
}

async function openEmbedded(dataDir: string, sharedBuffers: string | undefined): Promise<LocalDatabase> {
  // One server per folder: a second PGlite on the same files destroys the database. Released when the database closes.
  const lock = dataDir === 'memory' ? null : await lockDataDir(dataDir);
  const pglite = await openPglite(dataDir, { sharedBuffers, thread: true }).catch(async (error: unknown) => {
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
    await migrate(db, await loadSchema(SQL_DIR));
    // PGlite has no autoanalyze: the adapter stands in for it as tables grow, and catches up here before serving.
    await pglite.statistics.analyzeGrownTables();
  } catch (error) {
    await db.close();
    throw error;
  }
  return { db, describe: dataDir === 'memory' ? 'PGlite in memory (lost on exit)' : `PGlite in ${dataDir}` };
}

// No ANALYZE at start here: a real server's autovacuum keeps the statistics (and ANALYZE needs rights on every table).
async function openServer(url: string, note: string): Promise<LocalDatabase> {
  const shown = maskPassword(url);
  let db: Database | undefined;
  try {
    db = openPostgres(url);
    const [server] = await db.query<{ version: string; number: string }>(
      "SELECT current_setting('server_version') AS version, current_setting('server_version_num') AS number",
    );
    const version = server!.version.split(' ')[0]!;
    refuseOldServer(Number(server!.number), version);
    await migrate(db, await loadSchema(SQL_DIR));
    return { db, describe: `PostgreSQL ${version} at ${shown}${note}` };
  } catch (error) {
    await db?.close();
    throw new Error(`DATABASE_URL ${shown}: ${withoutPassword((error as Error).message, url)}`);
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
