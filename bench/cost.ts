// npm run cost: a month of traffic through the real handlers, on a simulated clock, priced with AWS's list prices.
//
// What runs is what runs in AWS: the ingest, metrics, publisher, drain and weekly-report handlers wired as
// functions/handlers/runtime.ts wires them, the real DynamoDB client against dynalite (the buffer, the snapshot record),
// and the real Data API adapter and client against the stand-in on an embedded PostgreSQL 16, with the pause model: Aurora
// pauses after autoPauseSeconds without a call and resumes in 15 s (30 s after a day paused), refusing calls meanwhile.
// The simulated clock moves only between events and while a handler waits (its retry sleeps), so a month takes minutes.
// It counts what AWS bills: Aurora's awake hours, Data API requests, DynamoDB read and write units (dynalite's own count,
// plus the local index's writes, which dynalite does not count), Lambda requests and GB-seconds (each invocation's real
// time plus the simulated time it waited), API Gateway requests, CloudWatch, Secrets Manager, Scheduler. At every
// publisher run it compares the published figures with a recount of everything accepted so far.
//
// Knobs (environment): COST_DAYS (every level this many days; default 30, and 7 for 10,000 a day), COST_LEVELS (all: idle,office,1000,10000), FOLD_EVERY_MINUTES (the stack's
// default), AUTO_PAUSE_SECONDS (300).
import { performance } from 'node:perf_hooks';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import pg from 'pg';
import { bufferTable } from '../functions/aws/buffer-table.js';
import { foldLeaseItem, snapshotTable } from '../functions/aws/snapshot-table.js';
import { loadConfig } from '../functions/core/config.js';
import { DAY_MS } from '../functions/core/metric.js';
import { FIGURE_NAMES, type Figure } from '../functions/core/published-figures.js';
import { baselineOf } from '../functions/db/alerts.js';
import { dataApiDatabase, type RetryPolicy } from '../functions/db/data-api.js';
import { loadSchema, migrate } from '../functions/db/migrate.js';
import { createDrainHandler } from '../functions/handlers/drain.js';
import { bufferedFigures } from '../functions/handlers/figures.js';
import { foldBuffer, type FoldDeps } from '../functions/handlers/fold.js';
import type { ApiEvent } from '../functions/handlers/http.js';
import { acceptIntoBuffer, createIngestHandler } from '../functions/handlers/ingest.js';
import { createMetricsHandler } from '../functions/handlers/metrics.js';
import { createPublishMetricHandler } from '../functions/handlers/publish-metric.js';
import type { ServiceDeps } from '../functions/handlers/service.js';
import { createWeeklyReportHandler } from '../functions/handlers/weekly-report.js';
import { SQL_DIR } from '../functions/local/service.js';
import { defineDaysSinceApp } from '../lib/days-since-app.js';
import { DEFAULT_FOLD_EVERY_MINUTES } from '../lib/settings.js';
import { openDataApiStandIn } from '../test/support/data-api-stand-in.js';
import { createBufferTable, createSnapshotTable, startDynalite, type DynamoStandIn } from '../test/support/dynalite.js';
import { startEmbeddedPostgres } from '../test/support/embedded-postgres.js';
import { quantile } from './figures.js';

// List prices, us-east-1, as docs/costs.md cites them (read 2026-12-02; AWS does not date its pricing pages).
export const PRICES = {
  auroraAcuHour: 0.12, // Aurora Serverless v2, Standard: per ACU-hour
  auroraStorageGbMonth: 0.1,
  auroraIoPerMillion: 0.2,
  dataApiPerMillion: 0.35,
  lambdaRequestPerMillion: 0.2,
  lambdaArmGbSecond: 0.0000133334,
  apiGatewayRestPerMillion: 3.5,
  dynamoReadPerMillion: 0.125, // on demand, per read request unit
  dynamoWritePerMillion: 0.625,
  dynamoStorageGbMonth: 0.25,
  dynamoPitrGbMonth: 0.2,
  cloudWatchMetricMonth: 0.3,
  cloudWatchPutPer1000: 0.01,
  cloudWatchAlarmMetric: 0.1,
  cloudWatchCompositeAlarm: 0.5,
  cloudWatchDashboard: 3,
  cloudWatchLogsGb: 0.5,
  secretMonth: 0.4,
  secretCallsPer10000: 0.05,
  schedulerPerMillion: 1,
} as const;
/** Aurora Serverless v2 runs at 0.5 ACU or more whenever it is not paused; idle work like this stays at the floor. */
const AWAKE_ACU = 0.5;
/** What CloudWatch Logs ingests per invocation besides our lines (START, END, REPORT), and per API request (the access log). */
const LAMBDA_LOG_BYTES = 350;
const ACCESS_LOG_BYTES = 450;

const FOLD_EVERY_MINUTES = Number(process.env.FOLD_EVERY_MINUTES ?? DEFAULT_FOLD_EVERY_MINUTES);
const AUTO_PAUSE_SECONDS = Number(process.env.AUTO_PAUSE_SECONDS ?? 300);
const START = Date.parse('2026-03-02T00:00:00Z'); // a Monday
const PUBLISH_EVERY_MS = 300_000;
const ENV = { INTERNAL_EMAIL_DOMAINS: 'sn1ma.example', BASELINE_DATE: '2026-02-01' };

interface Level {
  key: string;
  name: string;
  perDay: number;
  /** Days simulated; the counts are scaled to a 30-day month. */
  days: number;
  /** UTC hours the traffic comes in; the whole day when absent. */
  hours?: [number, number];
  users: number;
}
// 10,000 a day is a week, every interaction through the handlers, scaled to the month (uniform traffic: each week is
// like the others); COST_DAYS simulates every level for that many days instead.
const days = (fallback: number) => Number(process.env.COST_DAYS ?? fallback);
const LEVELS: Level[] = [
  { key: 'idle', name: 'idle (nobody comes)', perDay: 0, days: days(30), users: 0 },
  { key: 'office', name: '100 a day, office hours', perDay: 100, days: days(30), hours: [7, 15], users: 40 },
  { key: '1000', name: '1,000 a day', perDay: 1_000, days: days(30), users: 300 },
  { key: '10000', name: '10,000 a day', perDay: 10_000, days: days(7), users: 2_000 },
];

/** A deterministic generator, so two runs send the same month. */
function random(seed: number) {
  let state = seed >>> 0;
  return () => ((state = (Math.imul(state ^ (state >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0) / 2 ** 32);
}

interface Sent {
  at: number;
  user: string;
  type: string;
  team: boolean;
  test: boolean;
  bot: boolean;
}

/** The month's interactions: most users real, a team of three reporting with their company email, some page views, tests and scripts. */
function traffic(level: Level, rand: () => number): Sent[] {
  const sent: Sent[] = [];
  const user = (n: number) => `${n.toString(16).padStart(8, '0')}-0000-4000-8000-${String(level.perDay).padStart(12, '0')}`;
  for (let day = 0; day < level.days; day++) {
    const [from, to] = level.hours ?? [0, 24];
    for (let i = 0; i < level.perDay; i++) {
      const at = START + day * DAY_MS + Math.floor((from + rand() * (to - from)) * 3_600_000);
      const team = rand() < 0.05;
      const roll = rand();
      sent.push({
        at,
        user: team ? user(1_000_000 + Math.floor(rand() * 3)) : user(Math.floor(rand() ** 2 * level.users)),
        type: roll < 0.15 ? 'page_view' : ['login', 'coach_call', 'agent_run', 'decision', 'export', 'feedback', 'payment'][Math.floor(rand() * 7)]!,
        team,
        test: rand() < 0.02,
        bot: rand() < 0.01,
      });
    }
  }
  return sent.sort((a, b) => a.at - b.at);
}

/** An independent recount of what was accepted: the figures the publisher owes at `now`. */
function recount(accepted: readonly Sent[], upTo: number, now: number) {
  const internal = new Set(accepted.slice(0, upTo).filter((s) => s.team).map((s) => s.user));
  const last = new Map<string, number>();
  for (const s of accepted.slice(0, upTo)) {
    if (internal.has(s.user) || s.test || s.bot || s.type === 'page_view') continue;
    last.set(s.user, Math.max(last.get(s.user) ?? 0, s.at));
  }
  const times = [...last.values()];
  const lastReal = times.length === 0 ? null : Math.max(...times);
  const active = (days: number) => times.filter((t) => t > now - days * DAY_MS).length;
  return {
    [FIGURE_NAMES.days]: ((now - (lastReal ?? Date.parse(`${ENV.BASELINE_DATE}T00:00:00Z`))) / DAY_MS),
    [FIGURE_NAMES.dau]: active(1),
    [FIGURE_NAMES.wau]: active(7),
    [FIGURE_NAMES.mau]: active(30),
    [FIGURE_NAMES.totalRealUsers]: times.length,
  };
}

interface Meter {
  lambda: Map<string, { requests: number; gbSeconds: number; ms: number[] }>;
  apiRequests: number;
  dynamoRead: number;
  dynamoWrite: number;
  logBytes: number;
  putMetricData: number;
  schedulerInvocations: number;
}

/** Adds each call's consumed capacity to the meter; the local index's writes as well (projection ALL: as many units again). */
function meterDynamo(dynamo: DynamoStandIn, meter: Meter, bufferName: string) {
  type Next = (args: { input: unknown }) => Promise<{ output: unknown }>;
  const middleware = (next: Next, context: { commandName?: string }) => async (args: { input: unknown }) => {
    const input = args.input as Record<string, unknown>;
    input.ReturnConsumedCapacity = 'TOTAL';
    const result = await next(args);
    const units = (result.output as { ConsumedCapacity?: { CapacityUnits?: number } }).ConsumedCapacity?.CapacityUnits ?? 0;
    const command = context.commandName as string;
    if (['GetItemCommand', 'QueryCommand', 'ScanCommand'].includes(command)) meter.dynamoRead += units;
    else {
      const touchesIndex =
        input.TableName === bufferName && (command === 'PutItemCommand' || (command === 'UpdateItemCommand' && String(input.UpdateExpression).includes('REMOVE')));
      meter.dynamoWrite += units * (touchesIndex ? 2 : 1);
    }
    return result;
  };
  dynamo.client.middlewareStack.add(middleware as never, { step: 'initialize', name: 'costMeter' });
}

/** Alarm metrics, composite alarms, dashboards and secrets the stack deploys: read from the synthesized template. */
async function fixedResources() {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const template = Template.fromStack(await defineDaysSinceApp(app)).toJSON() as { Resources: Record<string, { Type: string; Properties: any }> };
  const resources = Object.values(template.Resources);
  const alarmMetrics = resources
    .filter((r) => r.Type === 'AWS::CloudWatch::Alarm')
    .reduce((sum, r) => sum + (r.Properties.Metrics ? r.Properties.Metrics.filter((m: { MetricStat?: unknown }) => m.MetricStat).length : 1), 0);
  const count = (type: string) => resources.filter((r) => r.Type === type).length;
  return { alarmMetrics, compositeAlarms: count('AWS::CloudWatch::CompositeAlarm'), dashboards: count('AWS::CloudWatch::Dashboard'), secrets: count('AWS::SecretsManager::Secret') };
}

export interface LevelResult {
  level: Level;
  awakeHours: number;
  resumes: number;
  dataApiCalls: number;
  meter: Meter;
  ingestP99Ms: number | null;
  refused: number;
  mismatches: number;
  ticks: number;
  foldRuns: number;
  costs: Record<string, number>;
  total: number;
  wallSeconds: number;
}

async function simulate(level: Level, adminUrl: string, fixed: Awaited<ReturnType<typeof fixedResources>>): Promise<LevelResult> {
  const wallStart = performance.now();
  // A database of its own on the server, migrated directly (the migration is not part of a month's bill).
  const name = `cost_${level.key}_${Date.now()}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;

  let now = START - DAY_MS;
  let invocationEnd = Number.POSITIVE_INFINITY;
  const standIn = await openDataApiStandIn(url.toString(), { pauseModel: { autoPauseSeconds: AUTO_PAUSE_SECONDS, now: () => now } });
  await migrate(dataApiDatabase(standIn.client, standIn.target, undefined, { continueAfterTimeout: true }), await loadSchema(SQL_DIR));
  standIn.pause();
  const migrationCalls = standIn.calls.length;

  const dynamo = await startDynalite();
  const [bufferName, figuresName] = await Promise.all([createBufferTable(dynamo.client), createSnapshotTable(dynamo.client)]);
  const meter: Meter = { lambda: new Map(), apiRequests: 0, dynamoRead: 0, dynamoWrite: 0, logBytes: 0, putMetricData: 0, schedulerInvocations: 0 };
  meterDynamo(dynamo, meter, bufferName);

  // The adapter's own retry policy, sleeping on the simulated clock.
  const retry: RetryPolicy = { budgetMs: 20_000, baseDelayMs: 250, maxDelayMs: 4_000, sleep: async (ms) => void (now += ms), now: () => now, random: Math.random };
  const db = dataApiDatabase(standIn.client, standIn.target, retry, { timeLeft: () => invocationEnd - now });
  const log = {
    info: (message: string, ...extra: unknown[]) => void (meter.logBytes += 120 + message.length + JSON.stringify(extra).length),
    warn: (message: string, ...extra: unknown[]) => void (meter.logBytes += 120 + message.length + JSON.stringify(extra).length),
    error: (message: string, ...extra: unknown[]) => void (meter.logBytes += 120 + message.length + JSON.stringify(extra).length),
  } as ServiceDeps['log'];
  let counter = 0;
  const deps: ServiceDeps = { db, config: loadConfig(ENV), now: () => new Date(now), newEventId: () => `server-${++counter}`, log };
  const buffer = bufferTable(dynamo.client, bufferName);
  const snapshots = snapshotTable(dynamo.client, figuresName);
  const baseline = baselineOf(db, deps.config);
  const foldDeps: FoldDeps = { ...deps, buffer, snapshots, lease: foldLeaseItem(dynamo.client, figuresName), baseline, deadline: () => invocationEnd, sleep: async (ms) => void (now += ms) };
  const fold = async () => (await foldBuffer(foldDeps)).record;
  const figures = bufferedFigures({ ...deps, snapshots, pending: () => buffer.pending(), fold, baseline });
  let published: Record<string, number> | null = null;
  const handlers = {
    ingest: createIngestHandler({ ...deps, accept: acceptIntoBuffer(buffer, log) }),
    metrics: createMetricsHandler({ ...deps, figures }),
    publisher: createPublishMetricHandler({
      ...deps,
      figures,
      foldEarly: fold,
      putFigures: async (values: readonly Figure[]) => {
        meter.putMetricData += 1;
        published = Object.fromEntries(values.map((figure) => [figure.name, figure.value]));
      },
    }),
    drain: createDrainHandler({ ...foldDeps, maintenanceDb: db }),
    weekly: createWeeklyReportHandler({ ...deps, figures, slack: async () => 'not_connected', dashboardUrl: null, baseline }),
  };

  /** One Lambda invocation: billed for its real time plus the simulated time it waited. */
  async function invoke<T>(fn: string, memoryMb: number, timeoutMs: number, work: () => Promise<T>): Promise<{ result: T | Error; ms: number }> {
    const simStart = now;
    invocationEnd = now + timeoutMs;
    const started = performance.now();
    let result: T | Error;
    try {
      result = await work();
    } catch (error) {
      result = error as Error;
    }
    const real = performance.now() - started;
    const billed = real + (now - simStart);
    const entry = meter.lambda.get(fn) ?? { requests: 0, gbSeconds: 0, ms: [] };
    entry.requests += 1;
    entry.gbSeconds += (Math.max(1, Math.ceil(billed)) / 1000) * (memoryMb / 1024);
    entry.ms.push(real);
    meter.lambda.set(fn, entry);
    meter.logBytes += LAMBDA_LOG_BYTES;
    return { result, ms: real };
  }
  const api = (event: ApiEvent, handler: (event: ApiEvent) => Promise<{ statusCode: number }>) => {
    meter.apiRequests += 1;
    meter.logBytes += ACCESS_LOG_BYTES;
    return handler(event);
  };

  const rand = random(level.perDay + 7);
  const sent = traffic(level, rand);
  type Event = { at: number; kind: 'ingest' | 'publish' | 'drain' | 'headline' | 'weekly'; index?: number };
  const events: Event[] = sent.map((s, index) => ({ at: s.at, kind: 'ingest' as const, index }));
  for (let t = START; t < START + level.days * DAY_MS; t += PUBLISH_EVERY_MS) events.push({ at: t, kind: 'publish' });
  for (let t = START; t < START + level.days * DAY_MS; t += FOLD_EVERY_MINUTES * 60_000) events.push({ at: t + 90_000, kind: 'drain' });
  for (let day = 0; day < level.days; day++) {
    // Fridays 09:00 SAST (07:00 UTC): the check-in; and someone looks at the number ten times a working day.
    if (new Date(START + day * DAY_MS).getUTCDay() === 5) events.push({ at: START + day * DAY_MS + 7 * 3_600_000, kind: 'weekly' });
    if (level.perDay > 0) for (let i = 0; i < 10; i++) events.push({ at: START + day * DAY_MS + (7 + i * 0.8) * 3_600_000 + 17_000, kind: 'headline' });
  }
  events.sort((a, b) => a.at - b.at);

  const ingestMs: number[] = [];
  let refused = 0;
  let accepted = 0;
  let mismatches = 0;
  let ticks = 0;
  let foldRuns = 0;
  for (const event of events) {
    now = Math.max(now, event.at);
    if (event.kind === 'ingest') {
      const s = sent[event.index!]!;
      const body = {
        event_id: `e-${event.index}`,
        user_id: s.user,
        interaction_type: s.type,
        occurred_at: new Date(now).toISOString(),
        context: { ...(s.team ? { email: 'dev@sn1ma.example' } : {}), ...(s.test ? { test: true } : {}), ...(s.bot ? { user_agent: 'python-requests/2.32' } : {}) },
      };
      s.at = now;
      const { result, ms } = await invoke('ingest', 256, 25_000, () => api(post('/metrics/interaction', body), handlers.ingest));
      ingestMs.push(ms);
      if (result instanceof Error || result.statusCode !== 202) refused += 1;
      else accepted = event.index! + 1;
    } else if (event.kind === 'publish') {
      meter.schedulerInvocations += 1;
      published = null;
      const at = now;
      await invoke('publisher', 256, 60_000, () => handlers.publisher());
      ticks += 1;
      const owed = recount(sent, accepted, at);
      if (published === null || Object.entries(owed).some(([figure, value]) => Math.abs(published![figure]! - value) > 1e-9)) {
        mismatches += 1;
        if (mismatches <= 3) console.error(`  mismatch at ${new Date(at).toISOString()}: published ${JSON.stringify(published)}, recount ${JSON.stringify(owed)}`);
      }
    } else if (event.kind === 'drain') {
      meter.schedulerInvocations += 1;
      foldRuns += 1;
      await invoke('drain', 256, 180_000, () => handlers.drain());
    } else if (event.kind === 'headline') {
      await invoke('metrics', 256, 25_000, () => api(get('/metrics/days-since-last-interaction'), handlers.metrics));
    } else {
      meter.schedulerInvocations += 1;
      await invoke('weekly-report', 256, 90_000, () => handlers.weekly());
    }
  }
  now = START + level.days * DAY_MS;
  const { awakeMs, resumes } = standIn.pauseReport();
  const dataApiCalls = standIn.calls.length - migrationCalls;
  const [{ bytes }] = (await (async () => {
    const client = new pg.Client({ connectionString: url.toString() });
    await client.connect();
    try {
      return (await client.query('SELECT pg_database_size(current_database())::float8 AS bytes')).rows;
    } finally {
      await client.end();
    }
  })()) as [{ bytes: number }];
  await Promise.all([standIn.close(), dynamo.close()]);

  // What the month costs, component by component; the event_ids the buffer keeps are 35 days of traffic at ~300 bytes.
  const month = 30 / level.days;
  const lambdaRequests = [...meter.lambda.values()].reduce((sum, e) => sum + e.requests, 0) * month;
  const gbSeconds = [...meter.lambda.values()].reduce((sum, e) => sum + e.gbSeconds, 0) * month;
  const bufferGb = (level.perDay * 35 * 300) / 1024 ** 3;
  const awakeHours = (awakeMs / 3_600_000) * month;
  const costs: Record<string, number> = {
    'Aurora compute': awakeHours * AWAKE_ACU * PRICES.auroraAcuHour,
    'Aurora storage and I/O': Math.max(1, bytes / 1024 ** 3) * PRICES.auroraStorageGbMonth + ((dataApiCalls * 20 * month) / 1e6) * PRICES.auroraIoPerMillion,
    'Data API': ((dataApiCalls * month) / 1e6) * PRICES.dataApiPerMillion,
    Lambda: (lambdaRequests / 1e6) * PRICES.lambdaRequestPerMillion + gbSeconds * PRICES.lambdaArmGbSecond,
    'API Gateway': ((meter.apiRequests * month) / 1e6) * PRICES.apiGatewayRestPerMillion,
    DynamoDB:
      ((meter.dynamoRead * month) / 1e6) * PRICES.dynamoReadPerMillion +
      ((meter.dynamoWrite * month) / 1e6) * PRICES.dynamoWritePerMillion +
      bufferGb * (PRICES.dynamoStorageGbMonth + PRICES.dynamoPitrGbMonth),
    'CloudWatch metrics, alarms, dashboard':
      6 * PRICES.cloudWatchMetricMonth +
      fixed.alarmMetrics * PRICES.cloudWatchAlarmMetric +
      fixed.compositeAlarms * PRICES.cloudWatchCompositeAlarm +
      fixed.dashboards * PRICES.cloudWatchDashboard +
      ((meter.putMetricData * month) / 1000) * PRICES.cloudWatchPutPer1000,
    'CloudWatch Logs': ((meter.logBytes * month) / 1024 ** 3) * PRICES.cloudWatchLogsGb,
    'Secrets Manager': fixed.secrets * PRICES.secretMonth + ((dataApiCalls * month) / 10_000) * PRICES.secretCallsPer10000,
    'EventBridge Scheduler': ((meter.schedulerInvocations * month) / 1e6) * PRICES.schedulerPerMillion,
  };
  const total = Object.values(costs).reduce((sum, cost) => sum + cost, 0);
  return {
    level,
    awakeHours,
    resumes: resumes * month,
    dataApiCalls: dataApiCalls * month,
    meter,
    ingestP99Ms: ingestMs.length > 0 ? quantile([...ingestMs].sort((a, b) => a - b), 0.99) : null,
    refused,
    mismatches,
    ticks,
    foldRuns,
    costs,
    total,
    wallSeconds: (performance.now() - wallStart) / 1000,
  };
}

function post(path: string, body: unknown): ApiEvent {
  return { httpMethod: 'POST', path, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), isBase64Encoded: false, queryStringParameters: null };
}
function get(path: string): ApiEvent {
  return { httpMethod: 'GET', path, headers: {}, body: null, isBase64Encoded: false, queryStringParameters: null };
}

const dollars = (value: number) => `$${value.toFixed(2)}`;

async function main() {
  const chosen = (process.env.COST_LEVELS ?? LEVELS.map((level) => level.key).join(',')).split(',');
  const fixed = await fixedResources();
  const server = await startEmbeddedPostgres({
    folderPrefix: 'days-since-cost-',
    password: 'cost',
    flags: ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off'],
  });
  console.log(
    `npm run cost: a month per level (10,000 a day: ${LEVELS[3]!.days} days, scaled), folded every ${FOLD_EVERY_MINUTES} min, Aurora pausing after ${AUTO_PAUSE_SECONDS} s idle ` +
      `(resume 15 s, 30 s after a day); ${fixed.alarmMetrics} alarm metrics, ${fixed.compositeAlarms} composite, ${fixed.dashboards} dashboard, ${fixed.secrets} secrets.`,
  );
  const results: LevelResult[] = [];
  try {
    for (const level of LEVELS.filter((candidate) => chosen.includes(candidate.key))) {
      const result = await simulate(level, server.url, fixed);
      results.push(result);
      const lambda = (fn: string) => result.meter.lambda.get(fn);
      console.log(
        `\n${level.name}: ${dollars(result.total)} a month (${level.days} days simulated in ${result.wallSeconds.toFixed(0)} s)\n` +
          `  Aurora awake ${result.awakeHours.toFixed(1)} h (${result.resumes.toFixed(0)} resumes); ${result.dataApiCalls.toFixed(0)} Data API calls; ` +
          `DynamoDB ${(result.meter.dynamoRead / 1000).toFixed(1)}k read, ${(result.meter.dynamoWrite / 1000).toFixed(1)}k write units in ${level.days} days; ` +
          `${result.foldRuns} drain runs; ${result.meter.apiRequests} API requests\n` +
          `  Lambda GB-s: ${[...result.meter.lambda].map(([fn, e]) => `${fn} ${e.gbSeconds.toFixed(0)}`).join(', ')}\n` +
          `  ingest handler p99 ${result.ingestP99Ms === null ? 'n/a' : `${result.ingestP99Ms.toFixed(1)} ms`} over ${lambda('ingest')?.requests ?? 0}; ` +
          `refused ${result.refused}; published = recount at ${result.ticks - result.mismatches} of ${result.ticks} ticks\n` +
          `  ${Object.entries(result.costs).map(([what, cost]) => `${what} ${dollars(cost)}`).join(' · ')}`,
      );
    }
  } finally {
    await server.stop();
  }
  console.log('\n| traffic | Aurora awake | Data API calls | DynamoDB units (read / write) | ingest p99 | refused | = recount | total a month |');
  console.log('|---|---|---|---|---|---|---|---|');
  for (const r of results) {
    console.log(
      `| ${r.level.name} | ${r.awakeHours.toFixed(1)} h | ${r.dataApiCalls.toFixed(0)} | ${((r.meter.dynamoRead * 30) / r.level.days / 1000).toFixed(0)}k / ${((r.meter.dynamoWrite * 30) / r.level.days / 1000).toFixed(0)}k | ` +
        `${r.ingestP99Ms === null ? '—' : `${r.ingestP99Ms.toFixed(0)} ms`} | ${r.refused} | ${r.ticks - r.mismatches}/${r.ticks} | **${dollars(r.total)}** |`,
    );
  }
  const failed = results.filter((r) => r.refused > 0 || r.mismatches > 0);
  if (failed.length > 0) process.exitCode = 1;
}

await main();
