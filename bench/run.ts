// npm run bench: the speed figures docs/benchmarks.md records, measured on 1,000,000 stored interactions in PGlite.
// Figures only, no pass/fail: this machine is shared and noisy, so compare ratios taken in the same run.
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { performance } from 'node:perf_hooks';
import { ConfigError, listFromEnv, loadConfig, numberFromEnv } from '../functions/core/config.js';
import { historyWindow } from '../functions/core/history.js';
import { DEFAULT_COUNTING_TYPES } from '../functions/core/interaction.js';
import { recordInteractions } from '../functions/db/interactions.js';
import { readDailyHistory } from '../functions/db/history.js';
import { readExclusions, readHeadline, readLastRealByType, readPulse } from '../functions/db/metrics.js';
import { readMilestoneProgress } from '../functions/db/milestones.js';
import { loadSchema, migrate } from '../functions/db/migrate.js';
import { openPglite } from '../functions/db/pglite.js';
import type { Database } from '../functions/db/port.js';
import { handler as health } from '../functions/handlers/health.js';
import { createIngestHandler } from '../functions/handlers/ingest.js';
import { createMetricsHandler } from '../functions/handlers/metrics.js';
import { createUsersHandler } from '../functions/handlers/users.js';
import type { ServiceDeps } from '../functions/handlers/service.js';
import { createLocalServer } from '../functions/local/server.js';
import { SQL_DIR } from '../functions/local/service.js';
import { esbuildOptions, HANDLERS_DIR, MAX_BUNDLE_BYTES } from '../lib/bundling.js';
import { history, TEAM_DOMAIN, TEAM_SIZE, usersFor } from './history.js';
import { runLoad } from './load.js';
import { benchTrafficOrder } from './pglite-order.js';
import { benchPostgres } from './postgres.js';
import { benchSelfHosting } from './self-hosting.js';

const INTERACTIONS = numberFromEnv(process.env, 'BENCH_INTERACTIONS', 1_000_000, { integer: true, min: 1000 });
/** BENCH_ONLY=order,self-hosting runs those sections alone (a section measured three times, say); default: all. */
const SECTIONS = ['pglite', 'postgres', 'bundles', 'order', 'self-hosting'] as const;
const only = listFromEnv(process.env, 'BENCH_ONLY');
const unknown = only.find((name) => !(SECTIONS as readonly string[]).includes(name));
if (unknown) throw new ConfigError('BENCH_ONLY', `names sections among ${SECTIONS.join(', ')}, got "${unknown}"`);
const runs = (section: (typeof SECTIONS)[number]) => only.length === 0 || only.includes(section);
const USERS = usersFor(INTERACTIONS);
const NOW = new Date();
const DAY_MS = 86_400_000;
// The seed's milestone table (SN1MA's example file): without milestones, the milestones read would measure nothing.
const MILESTONES_FILE = fileURLToPath(new URL('../docs/examples/sn1ma-milestones.json', import.meta.url));
const config = loadConfig({ INTERNAL_EMAIL_DOMAINS: TEAM_DOMAIN, MILESTONES_FILE }, (path) => readFileSync(path, 'utf8'));

async function seed(db: Database) {
  const started = performance.now();
  let batch = [];
  for (const interaction of history(INTERACTIONS, NOW)) {
    batch.push(interaction);
    if (batch.length === 500) {
      await recordInteractions(db, batch);
      batch = [];
    }
  }
  if (batch.length > 0) await recordInteractions(db, batch);
  await db.query('ANALYZE');
  return performance.now() - started;
}

interface Figure {
  name: string;
  medianMs: number;
  p95Ms: number;
  runs: number;
}

async function measure(name: string, runs: number, read: () => Promise<unknown>): Promise<Figure> {
  for (let i = 0; i < 5; i++) await read();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    await read();
    times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  return { name, medianMs: times[Math.floor(runs / 2)]!, p95Ms: times[Math.floor(runs * 0.95)]!, runs };
}

/** The seed's own table, indexes and query, filled with the same interactions. */
async function seedViewQuery(db: Database): Promise<() => Promise<unknown>> {
  // The seed's table as the seed wrote it, with UUID ids: the bench's ids are UUIDs, stored as text since issue 20.
  await db.query(`CREATE TABLE user_interactions (
    id SERIAL PRIMARY KEY, user_id UUID NOT NULL, interaction_type VARCHAR(50) NOT NULL,
    timestamp TIMESTAMPTZ DEFAULT CURRENT_TIMESTAMP, metadata JSONB DEFAULT '{}')`);
  await db.query(`INSERT INTO user_interactions (user_id, interaction_type, timestamp, metadata)
    SELECT user_id::uuid, interaction_type, occurred_at, metadata FROM interactions ORDER BY id`);
  await db.query('CREATE INDEX idx_user_interactions_user_id ON user_interactions(user_id)');
  await db.query('CREATE INDEX idx_user_interactions_timestamp ON user_interactions(timestamp DESC)');
  await db.query('CREATE INDEX idx_user_interactions_type ON user_interactions(interaction_type)');
  await db.query('ANALYZE user_interactions');
  return () =>
    db.query(`SELECT
        EXTRACT(EPOCH FROM (NOW() - MAX(timestamp))) / 86400 as days,
        MAX(timestamp) as last_at,
        COUNT(DISTINCT user_id) as users
      FROM user_interactions
      WHERE interaction_type IN ('signup', 'login', 'coach_call', 'agent_run', 'decision')`);
}

async function ingestOverHttp(db: Database) {
  const deps: ServiceDeps = { db, config, now: () => new Date(), newEventId: () => crypto.randomUUID(), log: console };
  const server = createLocalServer({ handlers: { ingest: createIngestHandler(deps), metrics: createMetricsHandler(deps), users: createUsersHandler(deps), health } });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const singles = await runLoad({ url, total: 5000, concurrency: 16, perRequest: 1, firstEvent: 0, users: USERS });
  const batches = await runLoad({ url, total: 100, concurrency: 4, perRequest: 500, firstEvent: 1_000_000, users: USERS });
  server.closeAllConnections();
  server.close();
  return { singles, batches: { ...batches, interactionsPerSecond: batches.requestsPerSecond * 500 } };
}

/** Each Lambda entry bundled exactly as the stack bundles it (minified, AWS SDK left to the runtime). */
async function bundleSizes(): Promise<Array<[string, number]>> {
  const out = mkdtempSync(join(tmpdir(), 'days-since-bundles-'));
  const entries = readdirSync(HANDLERS_DIR)
    .filter((file) => file.endsWith('.ts') && /^export (const|async function|function) handler\b/m.test(readFileSync(join(HANDLERS_DIR, file), 'utf8')))
    .map((file) => file.replace(/\.ts$/, ''));
  const sizes: Array<[string, number]> = [];
  for (const name of entries) {
    const outfile = join(out, `${name}.mjs`);
    await build(esbuildOptions(join(HANDLERS_DIR, `${name}.ts`), outfile));
    sizes.push([name, statSync(outfile).size]);
  }
  rmSync(out, { recursive: true, force: true });
  return sizes.sort((a, b) => a[1] - b[1]);
}

const fmt = (ms: number) => `${ms.toFixed(2)} ms`;

/** The PGlite section: seeding through the real write path, the reads, the seed's query, ingest over HTTP. */
async function benchPglite() {
  // As npm start opens it: on a thread of its own, so reads and ingest cross the same hop they do there.
  const db = await openPglite('memory', { thread: true });
  await migrate(db, await loadSchema(SQL_DIR));
  console.log(`Seeding ${INTERACTIONS.toLocaleString('en')} interactions over a year from ${USERS.toLocaleString('en')} users and a team of ${TEAM_SIZE}`);
  console.log('(10 % landing-page visits, 5 % scripts, 3 % test traffic, 2 % the team) through the real write path...');
  const seedMs = await seed(db);
  console.log(`  seeded in ${(seedMs / 1000).toFixed(1)} s (${Math.round(INTERACTIONS / (seedMs / 1000)).toLocaleString('en')} interactions/s in batches of 500, no HTTP)\n`);

  const figures: Figure[] = [];
  figures.push(await measure('headline (GET /metrics/days-since-last-interaction)', 200, () => readHeadline(db, config.internal)));
  figures.push(await measure('pulse: headline + DAU/WAU/MAU (publisher)', 50, () => readPulse(db, config.internal, NOW)));
  figures.push(await measure('last real interaction per type', 50, () => readLastRealByType(db, config.internal, config.countingTypes)));
  figures.push(
    await measure('exclusions over 7 days', 50, () => readExclusions(db, config.internal, new Date(NOW.getTime() - 7 * DAY_MS))),
  );
  // Status page (issue 5): each target <= 20 ms median.
  figures.push(await measure('milestones (GET /metrics/milestones)', 50, () => readMilestoneProgress(db, config.internal, config.milestones, NOW)));
  figures.push(await measure('90-day history (GET /metrics/history)', 50, () => readDailyHistory(db, config.internal, historyWindow(90, NOW))));

  const seedQuery = await seedViewQuery(db);
  const seedFigure = await measure("the seed's view query on the same data", 10, seedQuery);
  figures.push(seedFigure);

  console.log('Reads (median / p95 over N runs):');
  for (const figure of figures) console.log(`  ${figure.name.padEnd(58)} ${fmt(figure.medianMs).padStart(11)} ${fmt(figure.p95Ms).padStart(11)}  N=${figure.runs}`);
  const headline = figures[0]!;
  console.log(`\n  headline vs the seed's query: ${(seedFigure.medianMs / headline.medianMs).toFixed(0)}x faster (target >= 100x; headline target <= 5 ms median)\n`);

  console.log('Ingest over HTTP on 127.0.0.1 (the local server; the load comes from a worker thread):');
  const http = await ingestOverHttp(db);
  console.log(`  single interactions: ${Math.round(http.singles.requestsPerSecond).toLocaleString('en')} requests/s (target >= 1,000; ${http.singles.failures} failed)`);
  console.log(`  batches of 500:      ${Math.round(http.batches.interactionsPerSecond).toLocaleString('en')} interactions/s (PGlite target >= 8,000; 20,000 is the PostgreSQL target; ${http.batches.failures} failed)`);
  await db.close();
}

async function main() {
  if (runs('pglite')) await benchPglite();
  if (runs('postgres')) await benchPostgres({ interactions: INTERACTIONS, now: NOW, config, measure, seedViewQuery });
  if (runs('bundles')) {
    console.log(`\nLambda bundles (minified, AWS SDK external; limit ${MAX_BUNDLE_BYTES / 1024} KB):`);
    for (const [name, bytes] of await bundleSizes()) console.log(`  ${name.padEnd(16)} ${(bytes / 1024).toFixed(1).padStart(6)} KB`);
  }
  if (runs('order')) await benchTrafficOrder(INTERACTIONS);
  if (runs('self-hosting')) await benchSelfHosting(INTERACTIONS);
}

await main();
