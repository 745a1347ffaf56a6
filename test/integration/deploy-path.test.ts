import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { slackPoster } from '../../functions/aws/slack-webhook.js';
import { baselineOf } from '../../functions/db/alerts.js';
import { loadMigrations } from '../../functions/db/migrate.js';
import { createIngestHandler } from '../../functions/handlers/ingest.js';
import { createMetricsHandler } from '../../functions/handlers/metrics.js';
import { migrationsDigest } from '../../functions/handlers/migrate.js';
import { createWeeklyReportHandler } from '../../functions/handlers/weekly-report.js';
import { esbuildOptions, HANDLERS_DIR, PROJECT_ROOT } from '../../lib/bundling.js';
import { SQL_DIR } from '../../lib/days-since-app.js';
import { openDataApiStandIn, type DataApiStandIn } from '../support/data-api-stand-in.js';
import { get, post, testClock, testDeps } from '../support/harness.js';
import { createTestDatabase } from '../support/postgres.js';
import { startSlackStandIn, type SlackStandIn } from './slack-stand-in.js';

const run = promisify(execFile);

// Inside the project, so the bundle's external @aws-sdk/* imports resolve from node_modules as from the Lambda runtime.
mkdirSync(join(PROJECT_ROOT, 'test-output'), { recursive: true });
const OUT = mkdtempSync(join(PROJECT_ROOT, 'test-output', 'deploy-path-'));

let standIn: DataApiStandIn;
let slack: SlackStandIn;
let drop: () => Promise<void>;
let migrateBundle: string;

beforeAll(async () => {
  const database = await createTestDatabase();
  drop = database.drop;
  [standIn, slack] = await Promise.all([openDataApiStandIn(database.url), startSlackStandIn()]);
  // The migrate Lambda as the stack bundles it: the same esbuild options, sql/ copied beside index.mjs.
  migrateBundle = join(OUT, 'migrate', 'index.mjs');
  await build(esbuildOptions(join(HANDLERS_DIR, 'migrate.ts'), migrateBundle));
  cpSync(SQL_DIR, join(OUT, 'migrate', 'sql'), { recursive: true });
});

afterAll(async () => {
  await Promise.all([standIn?.close(), slack?.close()]);
  await drop?.();
  rmSync(OUT, { recursive: true, force: true });
});

/** Invokes the bundled migrate handler in a fresh node, as the deploy-time trigger does, configured only by env. */
async function invokeMigrateLambda(): Promise<{ applied: string[]; alreadyApplied: string[] }> {
  const script = `const { handler } = await import(${JSON.stringify(pathToFileURL(migrateBundle).href)});
    console.log(JSON.stringify(await handler()));`;
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], {
    cwd: OUT,
    env: {
      PATH: process.env.PATH ?? '',
      AWS_REGION: 'eu-west-1',
      AWS_ACCESS_KEY_ID: 'AKIDSTANDIN',
      AWS_SECRET_ACCESS_KEY: 'stand-in-secret',
      AWS_ENDPOINT_URL_RDS_DATA: standIn.endpoint,
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      POWERTOOLS_LOG_LEVEL: 'ERROR',
      DB_CLUSTER_ARN: standIn.target.resourceArn,
      DB_SECRET_ARN: standIn.target.secretArn,
      DB_NAME: standIn.target.database,
      MIGRATIONS_SHA256: migrationsDigest(await loadMigrations(SQL_DIR)),
    },
  });
  return JSON.parse(stdout.trim().split('\n').at(-1)!);
}

const executed = (from: number) => standIn.calls.slice(from).filter((call) => call.operation === 'ExecuteStatement');

describe('the deploy path, through the Data API stand-in on PostgreSQL 16', () => {
  it('the bundled migrate Lambda applies sql/ to an empty database, long statements allowed, and a second run is a no-op', async () => {
    const names = (await loadMigrations(SQL_DIR)).map((m) => m.name);
    expect(await invokeMigrateLambda()).toEqual({ applied: names, alreadyApplied: [] });
    const firstRun = executed(0);
    expect(firstRun.length).toBeGreaterThan(names.length);
    expect(firstRun.every((call) => call.error === undefined)).toBe(true);
    // Every statement the migrator sends may outlive the 45 s call timeout.
    expect(firstRun.every((call) => call.input.continueAfterTimeout === true)).toBe(true);

    const before = standIn.calls.length;
    expect(await invokeMigrateLambda()).toEqual({ applied: [], alreadyApplied: names });
    expect(executed(before).length).toBeGreaterThan(0);
    expect(executed(before).some((call) => /^CREATE (TABLE|INDEX|FUNCTION) (?!IF NOT EXISTS)/.test(call.input.sql))).toBe(false);
  });

  it('ingest, metrics and the weekly report answer through the stand-in', async () => {
    const clock = testClock('2026-02-13T06:30:00Z');
    const env = { BASELINE_DATE: '2026-02-01', INTERNAL_EMAIL_DOMAINS: 'sn1ma.example' };
    const deps = testDeps(standIn.db, { now: clock.now, env });
    const ingest = createIngestHandler(deps);
    const metrics = createMetricsHandler(deps);

    // One interaction: one ExecuteStatement, its rows read back from formattedRecords.
    let before = standIn.calls.length;
    const login = { event_id: 'login-1', user_id: '9b2f1c3e-8a4d-4e5f-9a6b-7c8d9e0f1a2b', interaction_type: 'login', occurred_at: '2026-02-13T06:00:00.000Z' };
    const first = await ingest(post('/metrics/interaction', login));
    expect(JSON.parse(first.body)).toEqual({ event_id: 'login-1', status: 'recorded', counted: true, reason: null });
    expect(standIn.calls.slice(before).map((call) => call.operation)).toEqual(['ExecuteStatement']);
    // The same event again is a duplicate with the original's verdict.
    expect(JSON.parse((await ingest(post('/metrics/interaction', login))).body)).toEqual({ event_id: 'login-1', status: 'duplicate', counted: true, reason: null });
    const batch = await ingest(
      post('/metrics/interactions', {
        interactions: [
          { event_id: 'pay-1', user_id: '1c9e6b2a-3d4f-4a5b-8c7d-6e5f4a3b2c1d', interaction_type: 'payment', occurred_at: '2026-02-13T06:10:00.000Z' },
          { event_id: 'team-1', user_id: '7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d', interaction_type: 'login', context: { email: 'dev@sn1ma.example' } },
        ],
      }),
    );
    expect(JSON.parse(batch.body)).toMatchObject({ status: 'recorded', recorded: 2, counted: 1 });

    const headline = JSON.parse((await metrics(get('/metrics/days-since-last-interaction'))).body);
    expect(headline).toMatchObject({ last_interaction: '2026-02-13T06:10:00.000Z', total_users: 2, status: 'active' });
    const summary = await metrics(get('/metrics/summary'));
    expect(summary.statusCode).toBe(200);
    expect(JSON.parse(summary.body)).toMatchObject({ total_users: 2 });
    const history = JSON.parse((await metrics(get('/metrics/history', { days: '3' }))).body);
    expect(history.history.at(-1)).toMatchObject({ day: '2026-02-13', active_users: 2, new_users: 2 });
    const milestones = await metrics(get('/metrics/milestones'));
    expect(milestones.statusCode).toBe(200);
    expect(JSON.parse(milestones.body).milestones.find((m: { measure: string }) => m.measure === 'total_real_users')).toMatchObject({ current: 2 });

    // Friday 09:00 SAST: the check-in is claimed, posted to Slack once, and a second run finds it posted.
    clock.set('2026-02-13T07:00:30Z');
    const quiet = { warn: () => {} };
    const alerting = {
      ...deps,
      slack: slackPoster(async () => new URL(slack.url), { fetch, sleep: async () => {}, now: Date.now, log: quiet }),
      dashboardUrl: null,
      baseline: baselineOf(standIn.db, deps.config),
    };
    const weekly = createWeeklyReportHandler(alerting);
    before = standIn.calls.length;
    expect(await weekly()).toBe('posted');
    expect(await weekly()).toBe('already_posted');
    expect(slack.received).toHaveLength(1);
    expect(slack.received[0]!.body.text).toMatch(/check-in/i);
    expect(standIn.calls.slice(before).filter((call) => call.error !== undefined)).toEqual([]);
  });
});
