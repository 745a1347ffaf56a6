import { CloudWatchClient, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { putFigures } from '../../functions/aws/cloudwatch.js';
import { dataApiDatabase, DEFAULT_RETRY } from '../../functions/db/data-api.js';
import type { Database } from '../../functions/db/port.js';
import { createPublishMetricHandler } from '../../functions/handlers/publish-metric.js';
import { bufferedService } from '../support/buffered-service.js';
import { openDataApiStandIn, type DataApiStandIn } from '../support/data-api-stand-in.js';
import { startDynalite, type DynamoStandIn } from '../support/dynalite.js';
import { capturingLog, emptyDatabase, post, testClock } from '../support/harness.js';
import { migratedPostgres } from '../support/postgres.js';

/*
 * The Data API returns at most 64 KB per row ("The Data API size limit is 64 KB per row in the result set returned by the
 * database": https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/data-api.limitations.html), and the stand-in
 * refuses a larger row as AWS does ("Packet for query is too large"). The snapshot used to come back as one row holding
 * every active user's time: past about 6,200 monthly active users every publish failed, and the fallback above 50,000 was
 * never reached. Now it is read a page of rows at a time.
 */

const cloudWatch = mockClient(CloudWatchClient);
afterAll(() => cloudWatch.restore());
const NOW = '2026-03-01T00:00:00Z';

let direct: Database & { url: string };
let standIn: DataApiStandIn;
let dynamo: DynamoStandIn;
beforeAll(async () => {
  [direct, dynamo] = await Promise.all([migratedPostgres(), startDynalite()]);
  standIn = await openDataApiStandIn(direct.url);
}, 120_000);
afterAll(async () => {
  await Promise.all([standIn?.close(), dynamo?.close()]);
  await direct?.close();
});

/** `users` real users active in the last 30 days, straight into the rollups, as that many recorded users leave them. */
async function activeUsers(users: number) {
  await emptyDatabase(direct);
  await direct.query(
    `INSERT INTO real_users (user_id, first_real_at, last_real_at)
     SELECT ('00000000-0000-4000-8000-' || lpad(to_hex(n), 12, '0'))::uuid, t, t FROM generate_series(1, ${users}) AS n,
     LATERAL (SELECT timestamptz '2026-02-28 23:00:00+00' - n * interval '1 second') AS x(t)`,
  );
  await direct.query(`UPDATE real_user_count SET users = ${users}`);
}

async function publisherThroughTheStandIn() {
  const clock = testClock(NOW);
  const { log, lines } = capturingLog();
  const db = dataApiDatabase(standIn.client, standIn.target, DEFAULT_RETRY);
  const aws = await bufferedService(db, dynamo, { now: clock.now, log, env: { BASELINE_DATE: '2026-02-01' } });
  const client = new CloudWatchClient({});
  const publish = createPublishMetricHandler({ ...aws.deps, figures: aws.figures, putFigures: (figures, at) => putFigures(client, 'SN1MA', figures, at) });
  return { aws, lines, publish };
}

const lastPublished = () =>
  Object.fromEntries(cloudWatch.commandCalls(PutMetricDataCommand).at(-1)!.args[0].input.MetricData!.map((datum) => [datum.MetricName, datum.Value]));

describe('the snapshot through the Data API stand-in, a page of rows at a time', () => {
  it('6,200 monthly active users: a snapshot is taken and the figures published from it, buffered users added', async () => {
    cloudWatch.on(PutMetricDataCommand).resolves({});
    await activeUsers(6_200);
    const { aws, publish } = await publisherThroughTheStandIn();
    await publish();
    expect(lastPublished()).toMatchObject({ DailyActiveUsers: 6_200, MonthlyActiveUsers: 6_200, TotalRealUsers: 6_200 });
    const record = await aws.snapshots.read();
    expect(record!.snapshot!.realUsers.size).toBe(6_200);
    // No row the stand-in answered came near the limit it enforces.
    expect(standIn.calls.filter((call) => call.error !== undefined)).toEqual([]);

    // One of them back (real since yesterday: not a new user) and one new, buffered: counted without another read.
    const before = standIn.calls.length;
    expect((await aws.ingest(post('/metrics/interaction', { user_id: '00000000-0000-4000-8000-000000000001', interaction_type: 'login', occurred_at: NOW }))).statusCode).toBe(202);
    expect((await aws.ingest(post('/metrics/interaction', { user_id: '00000000-0000-4000-8000-ffffffffffff', interaction_type: 'login', occurred_at: NOW }))).statusCode).toBe(202);
    await publish();
    expect(standIn.calls.length).toBe(before);
    expect(lastPublished()).toMatchObject({ DailyActiveUsers: 6_201, TotalRealUsers: 6_201 });
  }, 120_000);

  it("6,200 users and 4,100 internal ones with the products' own ids: every one read once across pages, in byte order", async () => {
    cloudWatch.on(PutMetricDataCommand).resolves({});
    await emptyDatabase(direct);
    // Numbers, names in both cases, non-ASCII: a locale's order and the bytes' order differ for each of them.
    const id = (prefix: string) => `(ARRAY['', 'user_', 'User_', 'ü-'])[n % 4 + 1] || '${prefix}' || n`;
    await direct.query(
      `INSERT INTO real_users (user_id, first_real_at, last_real_at)
       SELECT ${id('')}, t, t FROM generate_series(1, 6200) AS n,
       LATERAL (SELECT timestamptz '2026-02-28 23:00:00+00' - n * interval '1 second') AS x(t)`,
    );
    await direct.query('UPDATE real_user_count SET users = 6200');
    await direct.query(`INSERT INTO users (user_id, first_seen_at, marked_internal) SELECT ${id('i')}, now(), true FROM generate_series(1, 4100) AS n`);
    const expected = (prefix: string, count: number) =>
      Array.from({ length: count }, (_, i) => `${['', 'user_', 'User_', 'ü-'][(i + 1) % 4]}${prefix}${i + 1}`).sort();
    const { aws, publish } = await publisherThroughTheStandIn();
    await publish();
    const { snapshot } = (await aws.snapshots.read())!;
    expect([...snapshot!.realUsers.keys()].sort()).toEqual(expected('', 6_200));
    expect([...snapshot!.internalUsers].sort()).toEqual(expected('i', 4_100));
    expect(lastPublished()).toMatchObject({ MonthlyActiveUsers: 6_200, TotalRealUsers: 6_200 });
  }, 120_000);

  it('50,001 monthly active users: past what a snapshot keeps, every run reads Aurora, and publishes', async () => {
    cloudWatch.on(PutMetricDataCommand).resolves({});
    await activeUsers(50_001);
    const { aws, publish, lines } = await publisherThroughTheStandIn();
    await publish();
    expect(lastPublished()).toMatchObject({ DailyActiveUsers: 50_001, MonthlyActiveUsers: 50_001, TotalRealUsers: 50_001 });
    expect((await aws.snapshots.read())!.snapshot).toBeNull();
    await publish();
    expect(lines.filter((line) => line.includes('"why":"over_bound"'))).toHaveLength(1);
    expect(lastPublished()).toMatchObject({ MonthlyActiveUsers: 50_001 });
    expect(standIn.calls.filter((call) => call.error !== undefined)).toEqual([]);
  }, 120_000);
});
