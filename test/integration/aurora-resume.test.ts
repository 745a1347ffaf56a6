import { CloudWatchClient, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { putFigures } from '../../functions/aws/cloudwatch.js';
import { dataApiDatabase, RETRY_AFTER_SECONDS } from '../../functions/db/data-api.js';
import type { Database } from '../../functions/db/port.js';
import { createIngestHandler } from '../../functions/handlers/ingest.js';
import type { ApiEvent } from '../../functions/handlers/http.js';
import { createMetricsHandler } from '../../functions/handlers/metrics.js';
import { createPublishMetricHandler } from '../../functions/handlers/publish-metric.js';
import { changeAtOnce, createUsersHandler } from '../../functions/handlers/users.js';
import { DatabaseUnavailableError } from '../../functions/db/port.js';
import { bufferedService } from '../support/buffered-service.js';
import { startDynalite, type DynamoStandIn } from '../support/dynalite.js';
import { openDataApiStandIn, quickRetry, type DataApiStandIn, type ReceivedCall } from '../support/data-api-stand-in.js';
import { capturingLog, emptyDatabase, get, post, testClock, testDeps } from '../support/harness.js';
import { migratedPostgres } from '../support/postgres.js';

/*
 * The first call after Aurora Serverless v2 paused at 0 ACU: the Data API answers DatabaseResumingException until it
 * has resumed (about 15 s in AWS). The stand-in, the SDK client, the adapter and the handlers are the real ones; only
 * the adapter's retry budget is compressed to two seconds, against pauses well inside or far beyond it.
 */
const BUDGET_MS = 2_000;
const SHORT_PAUSE_MS = 500;
/** Far past the budget; each test ends the pause itself (pauseFor(0)) once it has seen the 503. */
const LONG_PAUSE_MS = 60_000;

const cloudWatch = mockClient(CloudWatchClient);
// The suites share worker processes (vitest.config.ts, isolate off): later files get the real client back.
afterAll(() => cloudWatch.restore());
const NAMESPACE = 'SN1MA';
const user = (n: number) => `${String(n).padStart(8, '0')}-0000-4000-8000-000000000000`;

/** Straight to PostgreSQL, never through the stand-in: what is really stored, even while "Aurora" is paused. */
let direct: Database & { url: string };
let standIn: DataApiStandIn;
beforeAll(async () => {
  direct = await migratedPostgres({ maxConnections: 2 });
  standIn = await openDataApiStandIn(direct.url);
});
afterAll(async () => {
  await standIn?.close();
  await direct?.close();
});
beforeEach(async () => {
  standIn.pauseFor(0);
  await emptyDatabase(direct);
  cloudWatch.reset();
  cloudWatch.on(PutMetricDataCommand).resolves({});
});

function service(budgetMs = BUDGET_MS, start = '2026-03-01T00:00:00Z', timeLeft?: () => number) {
  const clock = testClock(start);
  const { log, lines } = capturingLog();
  const db = dataApiDatabase(standIn.client, standIn.target, quickRetry(budgetMs), { timeLeft });
  // No BASELINE_DATE: the install date the migrator recorded is read through the Data API, as in AWS.
  const deps = testDeps(db, { now: clock.now, log });
  // Ingest straight into Aurora (the local way), to exercise the adapter's retries with the recording statement.
  return { clock, lines, deps, db, ingest: createIngestHandler(deps), metrics: createMetricsHandler(deps) };
}

/** Every row of every table, as text: "nothing changed" compared whole, rollups and counters included. */
async function everyRow(): Promise<Record<string, string[]>> {
  const tables = await direct.query<{ tablename: string }>("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename");
  const dump: Record<string, string[]> = {};
  for (const { tablename } of tables) {
    const rows = await direct.query<{ row: string }>(`SELECT t::text AS row FROM ${tablename} AS t ORDER BY 1`);
    dump[tablename] = rows.map((r) => r.row);
  }
  return dump;
}

async function storedTimes(eventId: string): Promise<number> {
  const [row] = await direct.query<{ n: number }>('SELECT count(*)::int AS n FROM interactions WHERE event_id = :id', { id: eventId });
  return row!.n;
}

const callsSince = (from: number): ReceivedCall[] => standIn.calls.slice(from);
const answers = (calls: ReceivedCall[]) => calls.map((call) => `${call.operation}:${call.error ?? 'ok'}`);
const interaction = (n: number, eventId: string, occurredAt?: string) => ({
  event_id: eventId,
  user_id: user(n),
  interaction_type: 'coach_call',
  ...(occurredAt ? { occurred_at: occurredAt } : {}),
});

describe('an ingest while Aurora resumes', () => {
  it('retries within its budget and records once', async () => {
    const { ingest } = service();
    const before = standIn.calls.length;
    standIn.pauseFor(SHORT_PAUSE_MS);
    const result = await ingest(post('/metrics/interaction', interaction(1, 'first-after-pause')));
    expect(result.statusCode).toBe(202);
    expect(JSON.parse(result.body)).toEqual({ event_id: 'first-after-pause', status: 'recorded', counted: true, reason: null });
    expect(await storedTimes('first-after-pause')).toBe(1);
    expect(await everyRow()).toMatchObject({ users: [expect.stringContaining(user(1))], real_users: [expect.stringContaining(user(1))] });

    // One statement, refused while resuming, sent again unchanged until it ran once.
    const calls = callsSince(before);
    expect(calls.length).toBeGreaterThan(1);
    expect(answers(calls)).toEqual([...Array(calls.length - 1).fill('ExecuteStatement:DatabaseResumingException'), 'ExecuteStatement:ok']);
    expect(calls[0]!.input.sql).toMatch(/record_interactions/);
    for (const call of calls) expect(call.input).toEqual(calls[0]!.input);
  });

  it(`past the budget answers 503 with Retry-After, writes nothing, and the same request after the resume records once`, async () => {
    const { ingest } = service();
    // Someone already known, so a half-written request would show as changed rollups, not only as new rows.
    expect((await ingest(post('/metrics/interaction', interaction(1, 'before-pause', '2026-02-28T12:00:00.000Z')))).statusCode).toBe(202);
    const stored = await everyRow();

    const before = standIn.calls.length;
    standIn.pauseFor(LONG_PAUSE_MS);
    const request = post('/metrics/interaction', { ...interaction(1, 'during-pause'), context: { email: 'founder@customer.example' } });
    const refused = await ingest(request);
    expect(refused.statusCode).toBe(503);
    expect(refused.headers?.['retry-after']).toBe(String(RETRY_AFTER_SECONDS));
    expect(JSON.parse(refused.body)).toEqual({ error: 'database_unavailable', message: 'the database is not available yet; retry shortly' });
    const calls = callsSince(before);
    expect(calls.length).toBeGreaterThan(1);
    expect(calls.every((call) => call.error === 'DatabaseResumingException' && /record_interactions/.test(call.input.sql))).toBe(true);
    expect(await everyRow()).toEqual(stored);

    // The client retries the same request once Aurora is up: recorded now, once; again, a duplicate.
    standIn.pauseFor(0);
    const retried = await ingest(request);
    expect(retried.statusCode).toBe(202);
    expect(JSON.parse(retried.body)).toMatchObject({ event_id: 'during-pause', status: 'recorded' });
    expect((await ingest(request)).statusCode).toBe(200);
    expect(await storedTimes('during-pause')).toBe(1);
    expect(await storedTimes('before-pause')).toBe(1);
  });

  it('a batch past the budget writes none of its interactions', async () => {
    const { ingest } = service();
    expect((await ingest(post('/metrics/interaction', interaction(1, 'known')))).statusCode).toBe(202);
    const stored = await everyRow();

    const before = standIn.calls.length;
    standIn.pauseFor(LONG_PAUSE_MS);
    const batch = post('/metrics/interactions', {
      interactions: [interaction(1, 'batch-1'), interaction(2, 'batch-2'), { ...interaction(3, 'batch-3'), context: { email: 'dev@sn1ma.example' } }],
    });
    const refused = await ingest(batch);
    expect(refused.statusCode).toBe(503);
    expect(refused.headers?.['retry-after']).toBe(String(RETRY_AFTER_SECONDS));
    // The whole batch is one statement, refused whole each time.
    expect(callsSince(before).every((call) => call.error === 'DatabaseResumingException' && /record_interactions/.test(call.input.sql))).toBe(true);
    expect(await everyRow()).toEqual(stored);

    standIn.pauseFor(0);
    const retried = await ingest(batch);
    expect(JSON.parse(retried.body)).toMatchObject({ status: 'recorded', recorded: 3, duplicates: 0 });
    for (const id of ['batch-1', 'batch-2', 'batch-3']) expect(await storedTimes(id)).toBe(1);
  });
});

describe('the publisher and the fold while Aurora is paused (AWS: snapshot + buffer)', () => {
  let dynamo: DynamoStandIn;
  beforeAll(async () => {
    dynamo = await startDynalite();
  });
  afterAll(async () => {
    await dynamo?.close();
  });
  const sent = () => cloudWatch.commandCalls(PutMetricDataCommand).map((call) => call.args[0].input);

  it('counts what is buffered without a call; the fold fails while paused, is retried, and records each interaction once', async () => {
    const clock = testClock('2026-03-01T00:00:00Z');
    const db = dataApiDatabase(standIn.client, standIn.target, quickRetry(BUDGET_MS));
    const aws = await bufferedService(db, dynamo, { now: clock.now });
    const client = new CloudWatchClient({});
    const publish = createPublishMetricHandler({ ...aws.deps, figures: aws.figures, putFigures: (figures, at) => putFigures(client, NAMESPACE, figures, at) });
    expect((await aws.ingest(post('/metrics/interaction', interaction(1, 'e1', '2026-02-28T00:05:00.000Z')))).statusCode).toBe(202);
    await aws.drain();

    // Paused: ingest, the headline and the publisher answer from DynamoDB and the snapshot; not one Data API call.
    standIn.pauseFor(LONG_PAUSE_MS);
    const before = standIn.calls.length;
    clock.set('2026-03-01T00:10:00Z');
    expect((await aws.ingest(post('/metrics/interaction', interaction(2, 'e2', '2026-03-01T00:09:00.000Z')))).statusCode).toBe(202);
    const headline = JSON.parse((await aws.metrics(get('/metrics/days-since-last-interaction'))).body);
    expect(headline).toMatchObject({ last_interaction: '2026-03-01T00:09:00.000Z', total_users: 2 });
    await publish();
    expect(sent()[0]!.MetricData!.map((datum) => datum.Value)).toEqual([1 / 1440, 1, 2, 2, 2, 0]);
    expect(callsSince(before)).toEqual([]);

    // The scheduled fold meets the pause: it fails past its budget, and what is buffered stays buffered.
    await expect(aws.drain()).rejects.toBeInstanceOf(DatabaseUnavailableError);
    expect((await aws.buffer.pending()).map((item) => item.event_id)).toEqual(['e2']);
    expect(await storedTimes('e2')).toBe(0);

    // Resumed: the next run folds it, once; a run after that finds nothing and calls nothing.
    standIn.pauseFor(0);
    expect(await aws.drain()).toMatchObject({ folded: 1, left: 0 });
    expect(await storedTimes('e2')).toBe(1);
    const idle = standIn.calls.length;
    expect(await aws.drain()).toMatchObject({ folded: 0 });
    expect(callsSince(idle)).toEqual([]);
  });

  it('counts a retry without an event_id once, by its Idempotency-Key or its occurred_at, buffered while paused and folded once', async () => {
    const clock = testClock('2026-03-01T00:00:00Z');
    const aws = await bufferedService(dataApiDatabase(standIn.client, standIn.target, quickRetry(BUDGET_MS)), dynamo, { now: clock.now });
    standIn.pauseFor(LONG_PAUSE_MS);
    const keyed = post('/metrics/interaction', { user_id: user(7), interaction_type: 'login' }, { 'Idempotency-Key': 'login-7' });
    const timed = post('/metrics/interaction', { user_id: user(8), interaction_type: 'export', occurred_at: '2026-03-01T00:00:00.000Z' });
    const first = [JSON.parse((await aws.ingest(keyed)).body), JSON.parse((await aws.ingest(timed)).body)];
    // The client timed out and sends both again, a minute later.
    clock.set('2026-03-01T00:01:00Z');
    const again = [JSON.parse((await aws.ingest(keyed)).body), JSON.parse((await aws.ingest(timed)).body)];
    expect(first.map((answer) => answer.status)).toEqual(['recorded', 'recorded']);
    expect(again).toEqual(first.map((answer) => ({ ...answer, status: 'duplicate' })));
    expect((await aws.buffer.pending()).map((item) => item.event_id).sort()).toEqual(first.map((answer) => answer.event_id).sort());
    standIn.pauseFor(0);
    expect(await aws.drain()).toMatchObject({ folded: 2, left: 0 });
    for (const answer of first) expect(await storedTimes(answer.event_id)).toBe(1);
  });
});

describe('outages other than a resume, and calls that block', () => {
  it.each(['DatabaseUnavailableException', 'InvalidResourceStateException', 'ServiceUnavailableError'] as const)(
    '%s answers 503 with Retry-After, after retrying within the budget',
    async (type) => {
      const { metrics, lines } = service();
      standIn.outageFor(type, LONG_PAUSE_MS);
      const before = standIn.calls.length;
      const refused = await metrics(get('/metrics/days-since-last-interaction'));
      standIn.outageFor(type, 0);
      expect(refused.statusCode).toBe(503);
      expect(refused.headers?.['retry-after']).toBe(String(RETRY_AFTER_SECONDS));
      expect(JSON.parse(refused.body)).toEqual({ error: 'database_unavailable', message: 'the database is not available yet; retry shortly' });
      expect(callsSince(before).length).toBeGreaterThan(1);
      expect(callsSince(before).every((call) => call.error === type)).toBe(true);
      expect(lines.filter((line) => line.includes('request failed'))).toEqual([]);
    },
  );

  it.each(['DatabaseResumingException', 'ServiceUnavailableError'] as const)(
    'the users Lambda answers %s with 503 and Retry-After, after retrying, forgetting and un-marking nothing; after it, both work',
    async (type) => {
      const { ingest, deps } = service();
      const users = createUsersHandler({ ...deps, changes: changeAtOnce(deps.db) });
      const remove = (path: string): ApiEvent => ({ ...get(path), httpMethod: 'DELETE', queryStringParameters: { user_id: 'Ana' } });
      expect((await ingest(post('/metrics/interaction', { event_id: 'ana-1', user_id: 'Ana', interaction_type: 'login', context: { internal: true } }))).statusCode).toBe(202);
      const outage = (ms: number) => (type === 'DatabaseResumingException' ? standIn.pauseFor(ms) : standIn.outageFor(type, ms));
      outage(LONG_PAUSE_MS);
      const before = standIn.calls.length;
      const refused = [await users(remove('/internal-users')), await users(remove('/users'))];
      outage(0);
      for (const answer of refused) {
        expect(answer.statusCode).toBe(503);
        expect(answer.headers?.['retry-after']).toBe(String(RETRY_AFTER_SECONDS));
      }
      expect(callsSince(before).length).toBeGreaterThan(2);
      expect(callsSince(before).every((call) => call.error === type)).toBe(true);
      expect(await direct.query("SELECT marked_internal FROM interactions WHERE user_id = 'Ana'")).toEqual([{ marked_internal: true }]);
      expect(JSON.parse((await users(remove('/internal-users'))).body)).toMatchObject({ status: 'unmarked', interactions: 1 });
      expect(JSON.parse((await users(remove('/users'))).body)).toMatchObject({ status: 'forgotten', interactions: 1 });
      expect(await storedTimes('ana-1')).toBe(0);
    },
  );

  it('a call that blocks while Aurora resumes is given up within the time the invocation has left', async () => {
    const blocking = await openDataApiStandIn(direct.url, { pauseModel: { autoPauseSeconds: 300, blockWhileResuming: true } });
    try {
      blocking.pauseFor(20_000);
      // An invocation with 3 s left: the call may take what remains less the margin to answer.
      const deadline = Date.now() + 3_000;
      const db = dataApiDatabase(blocking.client, blocking.target, quickRetry(BUDGET_MS), { timeLeft: () => deadline - Date.now() });
      const metrics = createMetricsHandler(testDeps(db));
      const started = Date.now();
      const refused = await metrics(get('/metrics/days-since-last-interaction'));
      const took = Date.now() - started;
      expect(refused.statusCode).toBe(503);
      expect(refused.headers?.['retry-after']).toBe(String(RETRY_AFTER_SECONDS));
      expect(took).toBeLessThan(3_000);
    } finally {
      await blocking.close();
    }
  });
});
