import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { CloudWatchClient, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { mockClient } from 'aws-sdk-client-mock';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSchema, migrate } from '../../functions/db/migrate.js';
import { dataApiDatabase, DEFAULT_RETRY } from '../../functions/db/data-api.js';
import { esbuildOptions, HANDLERS_DIR, PROJECT_ROOT } from '../../lib/bundling.js';
import { SQL_DIR } from '../../lib/days-since-app.js';
import { openDataApiStandIn, type DataApiStandIn } from '../support/data-api-stand-in.js';
import { createBufferTable, createSnapshotTable, startDynalite, type DynamoStandIn } from '../support/dynalite.js';
import { get, post } from '../support/harness.js';
import { migratedPostgres } from '../support/postgres.js';
import type { Database } from '../../functions/db/port.js';

/*
 * Issue 18's moment of truth, through the Lambda bundles exactly as the stack builds them (lib/bundling.ts; the bundle
 * check proves CDK produces the same bytes): Aurora auto-paused and resuming for 45 s, as the Data API stand-in models it.
 * Ingest, the headline and the publisher answer from DynamoDB (dynalite) alone; the scheduled fold meets the pause, fails,
 * and after the resume puts every interaction into Aurora exactly once. The stand-in's clock is moved by hand, so the
 * 45 s pass without waiting for them; the handlers run on the real clock.
 */

const HANDLERS = ['ingest', 'metrics', 'publish-metric', 'drain'] as const;
type Entry = (event: unknown, context?: { getRemainingTimeInMillis(): number }) => Promise<unknown>;

mkdirSync(join(PROJECT_ROOT, 'test-output'), { recursive: true });
const OUT = mkdtempSync(join(PROJECT_ROOT, 'test-output', 'paused-aurora-'));
const cloudWatch = mockClient(CloudWatchClient);
afterAll(() => cloudWatch.restore());

let direct: Database & { url: string };
let standIn: DataApiStandIn;
let dynamo: DynamoStandIn;
let standInClock = Date.parse('2026-03-01T00:00:00Z');
const handlers = {} as Record<(typeof HANDLERS)[number], Entry>;
const savedEnv = { ...process.env };

/** A Lambda context with this much time left, as the runtime passes it. */
const context = (ms: number) => {
  const deadline = Date.now() + ms;
  return { getRemainingTimeInMillis: () => deadline - Date.now() };
};
const apiContext = () => context(25_000);

beforeAll(async () => {
  [direct, dynamo] = await Promise.all([migratedPostgres(), startDynalite()]);
  standIn = await openDataApiStandIn(direct.url, { pauseModel: { autoPauseSeconds: 300, now: () => standInClock } });
  const [bufferName, figuresName] = await Promise.all([createBufferTable(dynamo.client), createSnapshotTable(dynamo.client)]);
  await migrate(dataApiDatabase(standIn.client, standIn.target, DEFAULT_RETRY, { continueAfterTimeout: true }), await loadSchema(SQL_DIR));
  // What the stack's bind… methods set, and what points the SDK at the stand-ins.
  Object.assign(process.env, {
    AWS_REGION: 'eu-west-1',
    AWS_ACCESS_KEY_ID: 'AKIDSTANDIN',
    AWS_SECRET_ACCESS_KEY: 'stand-in-secret',
    AWS_ENDPOINT_URL_RDS_DATA: standIn.endpoint,
    AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
    POWERTOOLS_LOG_LEVEL: 'ERROR',
    DB_CLUSTER_ARN: standIn.target.resourceArn,
    DB_SECRET_ARN: standIn.target.secretArn,
    DB_NAME: standIn.target.database,
    BUFFER_TABLE_NAME: bufferName,
    SNAPSHOT_TABLE_NAME: figuresName,
    BASELINE_DATE: '2026-02-01',
  });
  for (const name of HANDLERS) {
    const outfile = join(OUT, name, 'index.mjs');
    await build(esbuildOptions(join(HANDLERS_DIR, `${name}.ts`), outfile));
    handlers[name] = ((await import(pathToFileURL(outfile).href)) as { handler: Entry }).handler;
  }
}, 120_000);

afterAll(async () => {
  process.env = savedEnv;
  await Promise.all([standIn?.close(), dynamo?.close()]);
  await direct?.close();
  rmSync(OUT, { recursive: true, force: true });
});

const user = (n: number) => `${String(n).padStart(8, '0')}-0000-4000-8000-00000000000${n % 10}`;
const callsFrom = (index: number) => standIn.calls.slice(index);
const timesStored = async (eventId: string) =>
  ((await direct.query('SELECT count(*)::int AS n FROM interactions WHERE event_id = :id', { id: eventId })) as Array<{ n: number }>)[0]!.n;

async function timed<T>(work: () => Promise<T>): Promise<{ result: T; ms: number }> {
  const started = performance.now();
  const result = await work();
  return { result, ms: performance.now() - started };
}

describe('the first real interaction after a quiet spell, through the bundles, Aurora resuming for 45 s', () => {
  it('is accepted at once, counted at once, and folded into Aurora exactly once after the resume', async () => {
    cloudWatch.on(PutMetricDataCommand).resolves({});
    // Before the quiet spell: one user, and the publisher's snapshot of them.
    const before = await handlers.ingest(
      post('/metrics/interaction', { event_id: 'before', user_id: user(1), interaction_type: 'login', occurred_at: '2026-02-01T10:00:00Z' }),
      apiContext(),
    );
    expect(before).toMatchObject({ statusCode: 202 });
    await handlers.drain({}, context(180_000));
    expect(await timesStored('before')).toBe(1);

    // A week of nothing: Aurora paused long ago; the next call starts a 45 s resume.
    standIn.pause();
    standInClock += 7 * 86_400_000;
    standIn.pauseFor(45_000);
    const quiet = standIn.calls.length;
    const now = new Date();

    const single = await timed(() =>
      handlers.ingest(
        post('/metrics/interaction', { event_id: 'first-after-quiet', user_id: user(2), interaction_type: 'coach_call', occurred_at: now.toISOString() }),
        apiContext(),
      ),
    );
    expect(single.ms).toBeLessThan(3_000);
    expect(single.result).toMatchObject({ statusCode: 202 });
    expect(JSON.parse((single.result as { body: string }).body)).toEqual({ event_id: 'first-after-quiet', status: 'recorded', counted: true, reason: null });

    const batchIds = Array.from({ length: 20 }, (_, n) => `batch-${n}`);
    const batch = await timed(() =>
      handlers.ingest(
        post('/metrics/interactions', {
          interactions: batchIds.map((eventId, n) => ({ event_id: eventId, user_id: user(3 + (n % 4)), interaction_type: 'agent_run', occurred_at: now.toISOString() })),
        }),
        apiContext(),
      ),
    );
    expect(batch.ms).toBeLessThan(3_000);
    expect(JSON.parse((batch.result as { body: string }).body)).toMatchObject({ status: 'recorded', recorded: 20, duplicates: 0, counted: 20 });

    // Counted at once: the headline and the publisher, from the snapshot and the buffer.
    const headline = (await handlers.metrics(get('/metrics/days-since-last-interaction'), apiContext())) as { statusCode: number; body: string };
    expect(headline.statusCode).toBe(200);
    expect(JSON.parse(headline.body)).toMatchObject({ status: 'active', last_interaction: now.toISOString(), total_users: 6 });
    await handlers['publish-metric']({}, context(60_000));
    const published = cloudWatch.commandCalls(PutMetricDataCommand).at(-1)!.args[0].input.MetricData!;
    expect(Object.fromEntries(published.map((datum) => [datum.MetricName, datum.Value]))).toMatchObject({
      DailyActiveUsers: 5,
      MonthlyActiveUsers: 5,
      TotalRealUsers: 6,
    });
    // None of it reached the Data API.
    expect(callsFrom(quiet)).toEqual([]);

    // The scheduled fold meets the resume: refused, it gives up within its invocation and keeps everything buffered.
    const drainWhilePaused = await timed(() => handlers.drain({}, context(4_000)).then(() => 'folded', (error: Error) => error.name));
    expect(drainWhilePaused.result).toBe('DatabaseUnavailableError');
    expect(drainWhilePaused.ms).toBeLessThan(4_000);
    expect(callsFrom(quiet).every((call) => call.error === 'DatabaseResumingException')).toBe(true);
    expect(await timesStored('first-after-quiet')).toBe(0);

    // 45 s later Aurora is up: the next run folds every interaction, once; the one after finds nothing to do.
    standInClock += 45_000;
    expect(await handlers.drain({}, context(180_000))).toMatchObject({ folded: 21, left: 0 });
    for (const eventId of ['first-after-quiet', ...batchIds, 'before']) expect(await timesStored(eventId)).toBe(1);
    expect(await handlers.drain({}, context(180_000))).toMatchObject({ folded: 0 });

    // And the number is the same from the new snapshot as it was from the buffer.
    await handlers['publish-metric']({}, context(60_000));
    const after = cloudWatch.commandCalls(PutMetricDataCommand).at(-1)!.args[0].input.MetricData!;
    expect(Object.fromEntries(after.map((datum) => [datum.MetricName, datum.Value]))).toMatchObject({
      DailyActiveUsers: 5,
      MonthlyActiveUsers: 5,
      TotalRealUsers: 6,
      OldestBufferedInteractionAge: 0,
    });
  });
});
