import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import type { SNSEvent } from 'aws-lambda';
import { build } from 'esbuild';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { slackPoster } from '../../functions/aws/slack-webhook.js';
import { alarmRolesFromEnv } from '../../functions/core/alarm-notification.js';
import { baselineOf } from '../../functions/db/alerts.js';
import { loadSchema, splitStatements, type MigrationReport } from '../../functions/db/migrate.js';
import { databaseFigures } from '../../functions/handlers/figures.js';
import { createIngestHandler } from '../../functions/handlers/ingest.js';
import { createMetricsHandler } from '../../functions/handlers/metrics.js';
import { schemaDigest } from '../../functions/handlers/migrate.js';
import { createNotifySlackHandler } from '../../functions/handlers/notify-slack.js';
import { createWeeklyReportHandler } from '../../functions/handlers/weekly-report.js';
import { esbuildOptions, HANDLERS_DIR, PROJECT_ROOT } from '../../lib/bundling.js';
import { SQL_DIR } from '../../lib/days-since-app.js';
import { bind, DATA_API_RESULT_TYPES, openDataApiStandIn, type DataApiStandIn, type Parameter } from '../support/data-api-stand-in.js';
import { get, post, testClock, testDeps } from '../support/harness.js';
import { createTestDatabase } from '../support/postgres.js';
import { startSlackStandIn, type SlackStandIn } from './slack-stand-in.js';
import { SN1MA_MILESTONES, SN1MA_TEAM } from '../support/sn1ma.js';

const run = promisify(execFile);

// Inside the project, so the bundle's external @aws-sdk/* imports resolve from node_modules as from the Lambda runtime.
mkdirSync(join(PROJECT_ROOT, 'test-output'), { recursive: true });
const OUT = mkdtempSync(join(PROJECT_ROOT, 'test-output', 'deploy-path-'));

let standIn: DataApiStandIn;
let slack: SlackStandIn;
let drop: () => Promise<void>;
let databaseUrl: string;
let migrateBundle: string;

beforeAll(async () => {
  const database = await createTestDatabase();
  ({ drop, url: databaseUrl } = database);
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
async function invokeMigrateLambda(): Promise<MigrationReport> {
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
      SCHEMA_SHA256: schemaDigest(await loadSchema(SQL_DIR)),
    },
  });
  return JSON.parse(stdout.trim().split('\n').at(-1)!);
}

const executed = (from: number) => standIn.calls.slice(from).filter((call) => call.operation === 'ExecuteStatement');

describe('the deploy path, through the Data API stand-in on PostgreSQL 16', () => {
  it('the bundled migrate Lambda applies sql/ to an empty database, long statements allowed, and a second run is a no-op', async () => {
    const sql = await loadSchema(SQL_DIR);
    const names = sql.migrations.map((m) => m.name);
    expect(await invokeMigrateLambda()).toEqual({ applied: names, alreadyApplied: [], defined: sql.functions.map((f) => f.name), dropped: [] });
    const firstRun = executed(0);
    expect(firstRun.length).toBeGreaterThan(names.length);
    expect(firstRun.every((call) => call.error === undefined)).toBe(true);
    // Every statement the migrator sends may outlive the 45 s call timeout.
    expect(firstRun.every((call) => call.input.continueAfterTimeout === true)).toBe(true);

    const before = standIn.calls.length;
    expect(await invokeMigrateLambda()).toEqual({ applied: [], alreadyApplied: names, defined: [], dropped: [] });
    expect(executed(before).length).toBeGreaterThan(0);
    expect(executed(before).some((call) => /^CREATE (TABLE|INDEX|FUNCTION) (?!IF NOT EXISTS)/.test(call.input.sql))).toBe(false);
  });

  it('ingest, metrics and the weekly report answer through the stand-in', async () => {
    const clock = testClock('2026-02-13T06:30:00Z');
    // No BASELINE_DATE: the install date the migrator recorded is read back too.
    const env = { ...SN1MA_TEAM, INTERNAL_EMAIL_DOMAINS: 'sn1ma.example', MILESTONES: SN1MA_MILESTONES, ALARM_ROLES: JSON.stringify({ 'prod-warning': 'warning' }) };
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
    // A retry without an event_id, after a timeout: the Idempotency-Key makes it a duplicate, counted once.
    const keyed = post('/metrics/interaction', { user_id: '1c9e6b2a-3d4f-4a5b-8c7d-6e5f4a3b2c1d', interaction_type: 'page_view' }, { 'Idempotency-Key': 'visit-1' });
    const tries = [JSON.parse((await ingest(keyed)).body), JSON.parse((await ingest(keyed)).body)];
    expect(tries.map((answer) => answer.status)).toEqual(['recorded', 'duplicate']);
    expect(tries[1].event_id).toBe(tries[0].event_id);
    expect(await standIn.db.query('SELECT count(*) AS n FROM interactions WHERE event_id = :id', { id: tries[0].event_id })).toEqual([{ n: 1 }]);

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

    // Friday 09:00 in Johannesburg: the check-in is claimed, posted to Slack once, and a second run finds it posted.
    clock.set('2026-02-13T07:00:30Z');
    const quiet = { warn: () => {} };
    const baseline = baselineOf(standIn.db, deps.config);
    const alerting = {
      ...deps,
      figures: databaseFigures({ ...deps, baseline }),
      slack: slackPoster(async () => new URL(slack.url), { fetch, sleep: async () => {}, now: Date.now, log: quiet }),
      dashboardUrl: null,
      baseline,
    };
    const weekly = createWeeklyReportHandler(alerting);
    before = standIn.calls.length;
    expect(await weekly()).toBe('posted');
    expect(await weekly()).toBe('already_posted');
    expect(slack.received).toHaveLength(1);
    expect(standIn.calls.slice(before).filter((call) => call.error !== undefined)).toEqual([]);

    // A CloudWatch alarm through SNS: the notifier reads the number and the last announcement, posts, and records it.
    const event = JSON.parse(readFileSync(new URL('../fixtures/sns-alarm-single-metric.json', import.meta.url), 'utf8')) as SNSEvent;
    const message = JSON.parse(event.Records[0]!.Sns.Message);
    Object.assign(message, { AlarmName: 'prod-warning', NewStateValue: 'ALARM', OldStateValue: 'OK', StateChangeTime: '2026-02-14T07:00:00.000+0000' });
    event.Records[0]!.Sns.Message = JSON.stringify(message);
    clock.set('2026-02-14T07:00:10Z');
    await createNotifySlackHandler(alerting, alarmRolesFromEnv(env))(event);
    expect(slack.received).toHaveLength(2);
    expect(await standIn.db.query('SELECT state, posted FROM alert_announcements')).toEqual([{ state: 'warning', posted: true }]);
  });

  it('every statement the migrator and the handlers sent has result columns of Data API types only (prepared on PostgreSQL 16)', async () => {
    const sent = new Map<string, Parameter[]>();
    for (const call of standIn.calls) if (call.operation === 'ExecuteStatement') sent.set(call.input.sql, call.input.parameters ?? []);
    // A migration's own statements ran on the schema of their day, so they may not prepare now (a later migration may
    // drop what they read); the stand-in already refused any unsupported result of theirs as they ran.
    const migrationStatements = new Set((await loadSchema(SQL_DIR)).migrations.flatMap((migration) => splitStatements(migration.sql)));
    // Statements from every part of the code, collected from what was sent rather than listed by hand.
    for (const part of [/pg_advisory_xact_lock/, /schema_migrations/, /record_interactions/, /user_email_domains/, /daily_real_totals/, /real_user_activity/, /weekly_check_ins/, /alert_announcements/]) {
      expect([...sent.keys()].some((sql) => part.test(sql)), String(part)).toBe(true);
    }
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    try {
      const outside = async (sql: string, parameters: Parameter[]) => {
        const types = await resultTypes(client, sql, parameters);
        return types === null ? [] : types.filter((type) => !DATA_API_RESULT_TYPES.has(type.oid) && type.typtype !== 'e').map((type) => type.typname);
      };
      // The check sees what the Data API refuses: the migrator's lock as it was before issue 8, a regclass.
      expect(await outside("SELECT pg_advisory_xact_lock(hashtext('days-since schema_migrations'))", [])).toEqual(['void']);
      expect(await outside("SELECT 'users'::regclass AS t, ARRAY[1] AS a", [])).toEqual(['regclass', '_int4']);
      const offenders: string[] = [];
      for (const [sql, parameters] of sent) {
        if (migrationStatements.has(sql)) continue;
        const bad = await outside(sql, parameters);
        if (bad.length > 0) offenders.push(`${bad.join(', ')} in: ${sql.slice(0, 120)}`);
      }
      expect(offenders).toEqual([]);
    } finally {
      await client.end();
    }
  });
});

/** What PREPARE accepts; every other statement is a command without a result set (SHOW, EXPLAIN and FETCH are never sent). */
const PREPARABLE = /^(?:\s+|--[^\n]*(?=\n|$)|\/\*[\s\S]*?\*\/)*(SELECT|WITH|VALUES|TABLE|INSERT|UPDATE|DELETE|MERGE)\b/i;
const RESULT_SET_COMMAND = /^(?:\s+|--[^\n]*(?=\n|$)|\/\*[\s\S]*?\*\/)*(SHOW|EXPLAIN|FETCH)\b/i;

/** The result column types of `sql` as PostgreSQL prepares it with the Data API's parameter types; null for a command, which has none. */
async function resultTypes(client: pg.Client, sql: string, parameters: Parameter[]) {
  expect(sql).not.toMatch(RESULT_SET_COMMAND);
  if (!PREPARABLE.test(sql)) return null;
  const { text, types } = bind(sql, parameters);
  const { rows: names } = await client.query<{ name: string }>(
    "SELECT CASE WHEN t = 0 THEN 'unknown' ELSE format_type(t, NULL) END AS name FROM unnest($1::oid[]) WITH ORDINALITY AS u(t, n) ORDER BY n",
    [types],
  );
  await client.query(`PREPARE data_api_check ${names.length > 0 ? `(${names.map((n) => n.name).join(', ')})` : ''} AS ${text}`);
  try {
    const { rows } = await client.query<{ oid: number; typname: string; typtype: string }>(
      `SELECT r.oid::int AS oid, r.typname, r.typtype FROM pg_prepared_statements p
       CROSS JOIN LATERAL unnest(p.result_types) WITH ORDINALITY AS u(t, n) JOIN pg_type r ON r.oid = u.t
       WHERE p.name = 'data_api_check' ORDER BY u.n`,
    );
    return rows;
  } finally {
    await client.query('DEALLOCATE data_api_check');
  }
}
