import { PGlite } from '@electric-sql/pglite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_STATISTICS_SETTINGS, statisticsKeeper } from '../../functions/db/pglite-statistics.js';

// Issue 10: single-user PGlite never checkpoints while it runs, so its WAL grew by ~2 KB per interaction, never reused.

describe('the PGlite checkpoint stand-in', () => {
  let pg: PGlite;
  beforeAll(async () => {
    pg = await PGlite.create({ startParams: [...PGlite.defaultStartParams, '-c', 'shared_buffers=128MB'] });
    await pg.exec('CREATE TABLE filler (pad text)');
  });
  afterAll(async () => {
    await pg.close();
  });

  const redo = async () => (await pg.query<{ redo: string }>('SELECT redo_lsn::text AS redo FROM pg_control_checkpoint()')).rows[0]!.redo;
  const fill = (rows: number) => pg.exec(`INSERT INTO filler SELECT repeat('x', 200) FROM generate_series(1, ${rows})`);

  it('checkpoints once the WAL written since the last checkpoint passes its threshold, and not before', async () => {
    const keeper = statisticsKeeper(pg, { ...DEFAULT_STATISTICS_SETTINGS, checkpointWalBytes: 4 * 2 ** 20 });
    const start = await redo();
    await fill(1000); // about 0.3 MB of WAL
    await keeper.analyzeGrownTables();
    expect(await redo()).toBe(start);

    await fill(20_000); // about 6 MB
    await keeper.analyzeGrownTables();
    const checkpointed = await redo();
    expect(checkpointed).not.toBe(start);
    const [{ bytes }] = (await pg.query<{ bytes: number }>('SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), redo_lsn)::float8 AS bytes FROM pg_control_checkpoint()')).rows as [{ bytes: number }];
    expect(bytes).toBeLessThan(2 ** 20);
    await keeper.stop();
  });
});
