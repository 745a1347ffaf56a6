import { CloudWatchClient, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { putFigures } from '../../functions/aws/cloudwatch.js';
import { figuresOf } from '../../functions/core/published-figures.js';
import { baselineOf, readReading } from '../../functions/db/alerts.js';
import { dataApiDatabase, RETRY_AFTER_SECONDS } from '../../functions/db/data-api.js';
import type { Database } from '../../functions/db/port.js';
import { createIngestHandler } from '../../functions/handlers/ingest.js';
import { createPublishMetricHandler } from '../../functions/handlers/publish-metric.js';
import { memorySnapshotStore } from '../../functions/local/snapshot-store.js';
import { openDataApiStandIn, quickRetry, type DataApiStandIn, type ReceivedCall } from '../support/data-api-stand-in.js';
import { capturingLog, emptyDatabase, post, testClock, testDeps } from '../support/harness.js';
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

function service(budgetMs = BUDGET_MS, start = '2026-03-01T00:00:00Z') {
  const clock = testClock(start);
  const { log, lines } = capturingLog();
  const db = dataApiDatabase(standIn.client, standIn.target, quickRetry(budgetMs));
  // No BASELINE_DATE: the install date the migrator recorded is read through the Data API, as in AWS.
  const deps = testDeps(db, { now: clock.now, log });
  const snapshots = memorySnapshotStore();
  const client = new CloudWatchClient({});
  return {
    clock,
    lines,
    deps,
    ingest: createIngestHandler({ ...deps, snapshots }),
    publish: createPublishMetricHandler({
      ...deps,
      snapshots,
      baseline: baselineOf(db, deps.config),
      putFigures: (figures, at) => putFigures(client, NAMESPACE, figures, at),
    }),
  };
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

describe('the publisher while Aurora is paused', () => {
  const sent = () => cloudWatch.commandCalls(PutMetricDataCommand).map((call) => call.args[0].input);
  const expectedInput = (at: string, values: [days: number, dau: number, wau: number, mau: number, total: number]) => {
    const names = ['DaysSinceLastRealUserInteraction', 'DailyActiveUsers', 'WeeklyActiveUsers', 'MonthlyActiveUsers', 'TotalRealUsers'];
    return {
      Namespace: NAMESPACE,
      MetricData: names.map((name, i) => ({ MetricName: name, Value: values[i], Unit: i === 0 ? 'None' : 'Count', Timestamp: new Date(at) })),
    };
  };
  /** What PostgreSQL itself says at `at`, read directly: the figures the publisher owes. */
  const truthAt = async (deps: ReturnType<typeof service>['deps'], at: string) =>
    figuresOf(await readReading(direct, deps.config, baselineOf(direct, deps.config), new Date(at))).map((figure) => figure.value);

  it('publishes a fresh snapshot without a call; a stale one past the budget is published aged to now, with a warning', async () => {
    const { ingest, publish, clock, lines, deps } = service(BUDGET_MS, '2026-02-28T23:50:00Z');
    // Recorded before the day starts, each leaving a window during the first half hour.
    for (const [n, at] of [[1, '2026-02-28T00:05:00.000Z'], [2, '2026-02-22T00:15:00.000Z'], [3, '2026-02-01T00:00:00.000Z']] as const) {
      expect((await ingest(post('/metrics/interaction', interaction(n, `e${n}`, at)))).statusCode).toBe(202);
    }
    clock.set('2026-03-01T00:00:00Z');
    await publish();
    expect(sent()[0]).toEqual(expectedInput('2026-03-01T00:00:00Z', [(23 * 60 + 55) / 1440, 1, 2, 3, 3]));

    // Aurora paused, snapshot fresh: the figures aged to 00:10 (user 1 has left DAU), and not one Data API call.
    standIn.pauseFor(LONG_PAUSE_MS);
    let before = standIn.calls.length;
    clock.set('2026-03-01T00:10:00Z');
    await publish();
    expect(callsSince(before)).toEqual([]);
    expect(sent()[1]).toEqual(expectedInput('2026-03-01T00:10:00Z', [(24 * 60 + 5) / 1440, 0, 2, 3, 3]));
    expect(sent()[1]!.MetricData!.map((datum) => datum.Value)).toEqual(await truthAt(deps, '2026-03-01T00:10:00Z'));

    // Awake again for one ingest, which marks the snapshot stale; then Aurora pauses past the publisher's budget.
    standIn.pauseFor(0);
    clock.set('2026-03-01T00:12:00Z');
    expect((await ingest(post('/metrics/interaction', interaction(4, 'e4', '2026-03-01T00:11:00.000Z')))).statusCode).toBe(202);
    standIn.pauseFor(LONG_PAUSE_MS);
    before = standIn.calls.length;
    clock.set('2026-03-01T00:20:00Z');
    await publish();
    // The last snapshot aged to 00:20 (user 2 has left WAU); user 4 waits for the next refresh.
    expect(sent()[2]).toEqual(expectedInput('2026-03-01T00:20:00Z', [(24 * 60 + 15) / 1440, 0, 1, 3, 3]));
    expect(lines.some((line) => line.includes('published from the last snapshot: the database did not answer'))).toBe(true);
    // Only the refresh's statement, refused each time: nothing else reached the database.
    const calls = callsSince(before);
    expect(calls.length).toBeGreaterThan(1);
    expect(calls.every((call) => call.error === 'DatabaseResumingException' && /active_offsets/.test(call.input.sql))).toBe(true);

    // Resumed: the next run refreshes and includes user 4.
    standIn.pauseFor(0);
    clock.set('2026-03-01T00:25:00Z');
    await publish();
    expect(sent()[3]).toEqual(expectedInput('2026-03-01T00:25:00Z', [14 / 1440, 1, 2, 4, 4]));
    expect(sent()[3]!.MetricData!.map((datum) => datum.Value)).toEqual(await truthAt(deps, '2026-03-01T00:25:00Z'));
    expect(sent()).toHaveLength(4);
  });
});
