import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startLocalService, type LocalService } from '../../functions/local/service.js';
import { startEmbeddedPostgres } from '../support/embedded-postgres.js';
import { createTestDatabase } from '../support/postgres.js';
import { startServerProcess, type RunningServer } from '../support/processes.js';
import { localServiceEnv } from '../support/engines.js';

// Issue 21: `npm start` with DATABASE_URL while PostgreSQL is away or stalled. It gave 500 internal_error with no
// Retry-After and no SQLSTATE in the log, and a statement behind a lock waited without bound.

const USER_BASE = '00000000-0000-4000-8000-';
const userId = (n: number) => `${USER_BASE}${n.toString(16).padStart(12, '0')}`;

interface Answer {
  status: number;
  retryAfter: string | null;
  error?: string;
  message?: string;
}

describe('PostgreSQL stopped in the middle of ingest', () => {
  let postgres: Awaited<ReturnType<typeof startEmbeddedPostgres>>;
  let server: RunningServer | undefined;
  beforeAll(async () => {
    postgres = await startEmbeddedPostgres({
      folderPrefix: 'i21-outage-pg-',
      password: 'outage-test',
      flags: ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off'],
    });
  }, 120_000);
  afterAll(async () => {
    if (server && server.child.exitCode === null) server.child.kill('SIGKILL');
    await server?.exit;
    await postgres?.stop();
  });

  it('answers 503 with Retry-After and what happened throughout, records again once it is back, and loses nothing it acknowledged', async () => {
    server = startServerProcess('node', { DATABASE_URL: postgres.url });
    const url = await server.ready;
    const acknowledged = new Set<string>();
    const answers: Answer[] = [];
    let sent = 0;
    let sending = true;
    // Four clients, each sending batches of 50 until told to stop; a refused batch is simply not counted.
    const clients = Array.from({ length: 4 }, async () => {
      while (sending) {
        const ids = Array.from({ length: 50 }, () => `outage-${sent++}`);
        const interactions = ids.map((id) => ({ event_id: id, user_id: userId(Number(id.slice(7)) % 5000), interaction_type: 'login' }));
        const response = await fetch(`${url}/metrics/interactions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ interactions }),
          signal: AbortSignal.timeout(20_000),
        });
        const body = (await response.json()) as { error?: string; message?: string };
        answers.push({ status: response.status, retryAfter: response.headers.get('retry-after'), error: body.error, message: body.message });
        if (response.status === 202) ids.forEach((id) => acknowledged.add(id));
        else await new Promise((resolve) => setTimeout(resolve, 100));
      }
    });
    const recorded = () => answers.filter((answer) => answer.status === 202).length;
    await expect.poll(recorded, { timeout: 30_000 }).toBeGreaterThan(20);

    await postgres.pause();
    const refusedFrom = answers.length;
    await expect.poll(() => answers.length - refusedFrom, { timeout: 30_000 }).toBeGreaterThan(20);
    const health = await fetch(`${url}/healthz`);
    expect(health.status).toBe(503);
    expect(health.headers.get('retry-after')).toMatch(/^\d+$/);
    // Forgetting a user waits for the database as recording does: 503 with Retry-After, not a 500.
    const forget = await fetch(`${url}/users?user_id=${userId(1)}`, { method: 'DELETE', signal: AbortSignal.timeout(20_000) });
    const forgetBody = (await forget.json()) as { error?: string };
    expect([forget.status, forget.headers.get('retry-after'), forgetBody.error]).toEqual([503, expect.stringMatching(/^\d+$/), 'database_unavailable']);
    const during = answers.slice(refusedFrom + 4);
    await postgres.resume();
    const backFrom = answers.length;
    await expect.poll(() => answers.slice(backFrom).filter((answer) => answer.status === 202).length, { timeout: 30_000 }).toBeGreaterThan(10);
    sending = false;
    await Promise.all(clients);

    // While it was away: 503s only, each with Retry-After and a message saying what happened.
    expect(during.length).toBeGreaterThan(10);
    expect(during.filter((answer) => answer.status !== 503)).toEqual([]);
    // Throughout: nothing but 202 and 503, and every 503 as docs/api.md describes it.
    expect(answers.filter((answer) => answer.status !== 202 && answer.status !== 503)).toEqual([]);
    for (const refused of answers.filter((answer) => answer.status === 503)) {
      expect(refused).toEqual({ status: 503, retryAfter: expect.stringMatching(/^\d+$/), error: 'database_unavailable', message: expect.stringMatching(/^the database server (refused the connection \(ECONNREFUSED\)|reset the connection \(ECONNRESET\)|is shutting down \(admin_shutdown\), SQLSTATE 57P01|is starting or stopping .*SQLSTATE 57P03)|^the connection to the database server ended/) });
    }
    // The log says which, by SQLSTATE or errno.
    expect(server.output()).toMatch(/"message":"database unavailable".*"cause":"(ECONNREFUSED|ECONNRESET|57P01|57P03|connection_lost)"/);

    const client = new pg.Client({ connectionString: postgres.url });
    await client.connect();
    try {
      const { rows } = await client.query<{ event_id: string }>("SELECT event_id FROM interactions WHERE event_id LIKE 'outage-%'");
      const stored = new Set(rows.map((row) => row.event_id));
      expect([...acknowledged].filter((id) => !stored.has(id))).toEqual([]);
    } finally {
      await client.end();
    }
    server.child.kill('SIGTERM');
    expect(await server.exit).toEqual({ code: 0, signal: null });
  }, 180_000);
});

describe('a statement stalled behind a lock', () => {
  let service: LocalService | undefined;
  let holder: pg.Client | undefined;
  let drop: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await holder?.end().catch(() => {});
    await service?.close();
    await drop?.();
  });

  it('is cancelled after STATEMENT_TIMEOUT_SECONDS and answered 503 with Retry-After, not held open', async () => {
    const database = await createTestDatabase();
    drop = database.drop;
    service = await startLocalService(localServiceEnv({ DATABASE_URL: database.url, STATEMENT_TIMEOUT_SECONDS: '1' }), { print: () => {}, log: { info() {}, warn() {}, error() {} } });
    holder = new pg.Client({ connectionString: database.url });
    await holder.connect();
    await holder.query('BEGIN');
    await holder.query('LOCK TABLE interactions, users IN ACCESS EXCLUSIVE MODE');

    const asked = performance.now();
    const response = await fetch(`${service.url}/metrics/interaction`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ user_id: userId(1), interaction_type: 'login' }),
    });
    const waited = performance.now() - asked;
    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(await response.json()).toEqual({
      error: 'database_unavailable',
      message: 'the database did not answer in time: the statement was cancelled (statement_timeout), SQLSTATE 57014; retry shortly',
    });
    // Within the timeout (1 s), plus the round trip: never held open for as long as the lock is.
    expect(waited).toBeGreaterThan(900);
    expect(waited).toBeLessThan(3000);
    expect((await fetch(`${service.url}/healthz`)).status).toBe(503);

    await holder.query('ROLLBACK');
    const after = await fetch(`${service.url}/metrics/interaction`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ user_id: userId(1), interaction_type: 'login' }),
    });
    expect(after.status).toBe(202);
  }, 60_000);
});
