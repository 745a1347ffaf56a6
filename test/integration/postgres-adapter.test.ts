import { createServer, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPostgres } from '../../functions/db/postgres.js';
import { epochMs, json, readEpochMs, readJson, readNumber, uuid, type Database } from '../../functions/db/port.js';
import { migratedPostgres } from '../support/postgres.js';

describe('the pg adapter on PostgreSQL 16', () => {
  let db: Database;
  beforeAll(async () => {
    db = await migratedPostgres();
  });
  afterAll(async () => {
    await db.close();
  });

  it('runs on the major version Aurora runs', async () => {
    const [row] = await db.query<{ version: string }>("SELECT current_setting('server_version_num') AS version");
    expect(Number(row!.version)).toBeGreaterThanOrEqual(160000);
    expect(Number(row!.version)).toBeLessThan(170000);
  });

  it('binds :named parameters of every kind, repeated ones once, and speaks UTC', async () => {
    const at = new Date('2026-02-08T12:32:15.123Z');
    const [row] = await db.query(
      `SELECT ${epochMs(':at::timestamptz')} AS at, :id::uuid AS id, :doc::jsonb AS doc, :n::int + :n::int AS twice, :flag::boolean AS flag, current_setting('TimeZone') AS zone`,
      { at, id: uuid('9b2f1c3e-8a4d-4e5f-9a6b-7c8d9e0f1a2b'), doc: json({ a: [1, 2] }), n: 21, flag: true },
    );
    expect(readEpochMs(row!.at)).toEqual(at);
    expect(row!.id).toBe('9b2f1c3e-8a4d-4e5f-9a6b-7c8d9e0f1a2b');
    expect(readJson(row!.doc)).toEqual({ a: [1, 2] });
    expect(readNumber(row!.twice)).toBe(42);
    expect(row!.flag).toBe(true);
    expect(row!.zone).toBe('UTC');
  });

  it('commits a transaction whole, or rolls it back whole', async () => {
    await db.query('CREATE TABLE adapter_probe (n int)');
    await db.transaction(async (tx) => {
      await tx.query('INSERT INTO adapter_probe VALUES (1)');
      await tx.query('INSERT INTO adapter_probe VALUES (2)');
    });
    await expect(
      db.transaction(async (tx) => {
        await tx.query('INSERT INTO adapter_probe VALUES (3)');
        throw new Error('changed my mind');
      }),
    ).rejects.toThrow('changed my mind');
    const rows = await db.query<{ n: number }>('SELECT n FROM adapter_probe ORDER BY n');
    expect(rows.map((row) => row.n)).toEqual([1, 2]);
  });

  it('gives up on a server that accepts the connection and never answers, instead of waiting forever', async () => {
    const sockets: Socket[] = [];
    const silent = createServer((socket) => void sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as { port: number };
    const unanswered = openPostgres(`postgres://someone:secret@127.0.0.1:${port}/db`, { connectTimeoutMs: 300 });
    try {
      await expect(unanswered.query('SELECT 1')).rejects.toThrow(/timeout/i);
    } finally {
      await unanswered.close();
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });
});
