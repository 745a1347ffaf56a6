import { afterEach, describe, expect, it } from 'vitest';
import { toStore } from '../../functions/core/recording.js';
import { recordInteractions } from '../../functions/db/interactions.js';
import type { Database } from '../../functions/db/port.js';
import { loadConfig } from '../../functions/core/config.js';
import { startLocalService, type LocalService } from '../../functions/local/service.js';
import { freshPglite } from '../support/pglite-template.js';
import { localServiceEnv } from '../support/engines.js';

// Issue 10: `npm start` runs PGlite on a worker thread of its own, so a statement's WebAssembly never holds the event
// loop that answers /healthz, and the next batch's statement is already waiting there when one ends.

const open: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((each) => each.close()));
});

async function threaded(): Promise<Database> {
  const db = await freshPglite({ thread: true });
  open.push(db);
  return db;
}

describe('PGlite on its own thread', () => {
  it('lets the local server answer /healthz while a statement holds the database', async () => {
    const service: LocalService = await startLocalService(
      localServiceEnv({ DATA_DIR: 'memory' }),
      { print: () => {} },
    );
    open.push(service);
    let slept = false;
    // On the server's own thread this held the event loop: /healthz could not even be read until it ended.
    const sleeping = service.db.query('SELECT pg_sleep(3)').then(() => (slept = true));
    const response = await fetch(`${service.url}/healthz`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'ok' });
    expect(slept).toBe(false);
    await sleeping;
  }, 60_000);

  it("gives a failed statement's SQLSTATE and message, never the statement or its parameters", async () => {
    const db = await threaded();
    const failure = await db.query('SELECT 1 / :zero AS boom', { zero: 0 }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(Error);
    expect(failure).toMatchObject({ code: '22012', message: 'division by zero' });
    expect(Object.keys(failure as object)).not.toContain('query');
    expect(Object.keys(failure as object)).not.toContain('params');
    // The connection is still there for the next one.
    expect(await db.query('SELECT 2 AS two')).toEqual([{ two: 2 }]);
  }, 60_000);

  it('keeps a transaction to itself: others wait for it, and a failed one leaves nothing', async () => {
    const db = await threaded();
    await db.query('CREATE TABLE notes (body text)');
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let inserted!: () => void;
    const insertedYet = new Promise<void>((resolve) => (inserted = resolve));
    const failed = db
      .transaction(async (tx) => {
        await tx.query("INSERT INTO notes VALUES ('uncommitted')");
        inserted();
        await held;
        throw new Error('changed my mind');
      })
      .catch((error: Error) => error.message);
    await insertedYet;
    // Sent while the transaction is open: it must neither see the row nor run inside that transaction.
    const counted = db.query<{ notes: number }>('SELECT count(*)::int AS notes FROM notes');
    release();
    expect(await failed).toBe('changed my mind');
    expect(await counted).toEqual([{ notes: 0 }]);
    expect(await db.transaction(async (tx) => tx.query("INSERT INTO notes VALUES ('kept') RETURNING body"))).toEqual([{ body: 'kept' }]);
    expect(await db.query('SELECT body FROM notes')).toEqual([{ body: 'kept' }]);
  }, 60_000);

  it('refuses statements once closed, instead of leaving them waiting', async () => {
    const db = await freshPglite({ thread: true });
    await db.close();
    await expect(db.query('SELECT 1')).rejects.toThrow("the embedded database's thread stopped");
  }, 60_000);

  it('has the next batch already sent while one runs, and never more than two at once', async () => {
    const db = await threaded();
    const { loadSchema, migrate } = await import('../../functions/db/migrate.js');
    const { SQL_DIR } = await import('../../functions/local/database.js');
    await migrate(db, await loadSchema(SQL_DIR));
    let running = 0;
    const overlaps: number[] = [];
    const counting: Database = {
      ...db,
      async query(sql, params) {
        overlaps.push(++running);
        try {
          return await db.query(sql, params);
        } finally {
          running--;
        }
      },
    };
    const batch = (b: number) =>
      Array.from({ length: 500 }, (_, i) =>
        toStore(
          { event_id: `pipe-${b}-${i}`, user_id: `00000000-0000-4000-8000-${(b * 500 + i).toString(16).padStart(12, '0')}`, interaction_type: 'login' },
          new Date(),
          () => '',
          loadConfig({}),
        ),
      );
    // Four batches of 500 make four statements: they cannot share one.
    const outcomes = await Promise.all([0, 1, 2, 3].map((b) => recordInteractions(counting, batch(b))));
    expect(outcomes.flat().filter((outcome) => outcome.recorded)).toHaveLength(2000);
    expect(overlaps).toEqual([1, 2, 2, 2]);
  }, 120_000);
});
