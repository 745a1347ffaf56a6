// npm run bench, PostgreSQL section: the engine production runs (Aurora PostgreSQL 16), with many writers at once.
// An embedded PostgreSQL 16 with durable settings (fsync and synchronous_commit on), 8 concurrent writers posting
// 500-item batches through the pg adapter, each its own adapter as each Lambda is; then the reads on the same data.
import { readdirSync, readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import type { Config } from '../functions/core/config.js';
import { historyWindow } from '../functions/core/history.js';
import { DEFAULT_COUNTING_TYPES } from '../functions/core/interaction.js';
import type { InteractionToStore } from '../functions/core/recording.js';
import { readDailyHistory } from '../functions/db/history.js';
import { recordInteractions } from '../functions/db/interactions.js';
import { readExclusions, readHeadline, readLastRealByType, readPulse } from '../functions/db/metrics.js';
import { readMilestoneProgress } from '../functions/db/milestones.js';
import { loadSchema, migrate } from '../functions/db/migrate.js';
import { json, type Database } from '../functions/db/port.js';
import { openPostgres } from '../functions/db/postgres.js';
import { SQL_DIR } from '../functions/local/service.js';
import { startEmbeddedPostgres } from '../test/support/embedded-postgres.js';
import { latencyWindow, quantile } from './figures.js';
import { history, TEAM_SIZE, usersFor } from './history.js';

const WRITERS = 8;
const BATCH = 500;
const DAY_MS = 86_400_000;
/** Where "at 100k" is measured (half the run when it is smaller). */
const earlyMark = (interactions: number) => Math.min(100_000, Math.floor(interactions / 2));

export interface Figure {
  name: string;
  medianMs: number;
  p95Ms: number;
  runs: number;
}

/** What run.ts already measures PGlite with, passed in so both engines are measured the same way. */
export interface BenchTools {
  interactions: number;
  now: Date;
  config: Config;
  measure(name: string, runs: number, read: () => Promise<unknown>): Promise<Figure>;
  seedViewQuery(db: Database): Promise<() => Promise<unknown>>;
}

const SETTINGS = ['server_version', 'fsync', 'synchronous_commit', 'full_page_writes', 'wal_level', 'shared_buffers', 'max_wal_size', 'checkpoint_timeout', 'max_connections'];

/** Lock waits that lasted past deadlock_timeout, tallied by what the waiter was doing and on which table (log_lock_waits). */
const longWaits = new Map<string, number>();
function tallyLockWaits(message: unknown) {
  for (const match of String(message).matchAll(/while ([a-z ]+?) (?:index tuple )?\([^)]*\)(?: in index "[^"]*")? in relation "([^"]+)"/g)) {
    const where = `${match[1]} in ${match[2]}`;
    longWaits.set(where, (longWaits.get(where) ?? 0) + 1);
  }
}

function startPostgres() {
  return startEmbeddedPostgres({
    folderPrefix: 'days-since-bench-pg-',
    password: 'days-since-bench',
    // Durable, as Aurora is: every commit waits for its WAL on disk, and pages are written whole after a checkpoint.
    // Buffers hold the whole million-row database (about 470 MB). max_wal_size is raised, as PostgreSQL's own
    // documentation advises against full-page-write cost, so that a backfill's WAL volume does not force a
    // checkpoint every gigabyte; checkpoints still come every 5 minutes (checkpoint_timeout).
    flags: [
      ...['-c', 'fsync=on', '-c', 'synchronous_commit=on', '-c', 'full_page_writes=on', '-c', 'shared_buffers=1GB', '-c', 'max_connections=50'],
      ...['-c', 'max_wal_size=4GB'],
      // On 2 MB pages when the machine has them reserved, as RDS for PostgreSQL runs every class above medium: on
      // this two-core VM, 4 KB pages cost the server about 40 % more CPU per interaction (79 -> 112 µs).
      ...['-c', 'huge_pages=try'],
      // Every lock wait over 200 ms is logged with the table it was on.
      ...['-c', 'log_lock_waits=on', '-c', 'deadlock_timeout=200ms'],
    ],
    onLog: tallyLockWaits,
  });
}

interface Batch {
  storedBefore: number;
  ms: number;
}

/** Every 100 ms: the sampler is a ninth backend on the same two cores, and at 20 ms it took 3 % of them. */
const SAMPLE_EVERY_MS = 100;

/** Samples what the writers wait on, from a connection of its own, until stopped. */
function sampleWaits(client: pg.Client) {
  const waits = new Map<string, number>();
  let samples = 0;
  let running = true;
  const done = (async () => {
    while (running) {
      const { rows } = await client.query<{ wait: string; n: number }>(
        `SELECT coalesce(wait_event_type || ':' || wait_event, 'running') AS wait, count(*)::int AS n FROM pg_stat_activity
         WHERE datname = current_database() AND pid <> pg_backend_pid() AND state = 'active' GROUP BY 1`,
      );
      samples++;
      for (const row of rows) waits.set(row.wait, (waits.get(row.wait) ?? 0) + row.n);
      await new Promise((resolve) => setTimeout(resolve, SAMPLE_EVERY_MS));
    }
  })();
  return {
    async stop() {
      running = false;
      await done;
      return { waits, samples };
    },
  };
}

async function deadlocks(db: Database): Promise<number> {
  const [row] = await db.query<{ deadlocks: string }>('SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()');
  return Number(row!.deadlocks);
}

/** CPU time (ms) used so far by the server: the postmaster and every process it started (Linux /proc; NaN elsewhere). */
function serverCpuMs(postmaster: number): number {
  try {
    const ticksPerSecond = 100; // USER_HZ, 100 on every Linux the bench runs on
    let ticks = 0;
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      let fields: string[];
      try {
        fields = readFileSync(`/proc/${entry}/stat`, 'utf8').split(') ')[1]!.split(' ');
      } catch {
        continue; // exited meanwhile
      }
      if (Number(entry) === postmaster || Number(fields[1]) === postmaster) ticks += Number(fields[11]) + Number(fields[12]);
    }
    return (ticks * 1000) / ticksPerSecond;
  } catch {
    return NaN;
  }
}

/** MiB of the server's memory mapped on pages larger than 4 KB (/proc/<postmaster>/smaps; 0 when none or not Linux). */
function hugePageMiB(postmaster: number): number {
  try {
    let kib = 0;
    let size = 0;
    for (const line of readFileSync(`/proc/${postmaster}/smaps`, 'utf8').split('\n')) {
      const [, name, value] = /^(\w+):\s+(\d+) kB/.exec(line) ?? [];
      if (name === 'Size') size = Number(value);
      if (name === 'KernelPageSize' && Number(value) > 4) kib += size;
    }
    return kib / 1024;
  } catch {
    return 0;
  }
}

/** The machine's idle and total CPU time so far (/proc/stat, all cores), to tell CPU-bound from waiting. */
function machineCpu(): { idle: number; total: number } {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    return { idle: fields[3]! + fields[4]!, total: fields.reduce((a, b) => a + b, 0) };
  } catch {
    return { idle: NaN, total: NaN };
  }
}

/**
 * 8 writers, each with its own adapter (so its own queue and connection), share the generated year of traffic.
 * The batches are generated before the clock starts: in AWS the writers are Lambdas on other machines, and here the
 * generator would take the server's CPU. Serializing each batch and reading its answer stay in the measured loop.
 */
async function ingest(url: string, postmaster: number, tools: BenchTools) {
  const prepared: InteractionToStore[][] = [];
  for (const interaction of history(tools.interactions, tools.now)) {
    if (prepared.length === 0 || prepared.at(-1)!.length === BATCH) prepared.push([]);
    prepared.at(-1)!.push(interaction);
  }
  let next = 0;
  let stored = 0;
  const batches: Batch[] = [];
  let failures = 0;
  const mark = earlyMark(tools.interactions);
  let fromMark: number | null = null;
  const writers = Array.from({ length: WRITERS }, () => openPostgres(url, { maxConnections: 1 }));
  await Promise.all(writers.map((db) => db.query('SELECT 1')));
  const cpuBefore = { server: serverCpuMs(postmaster), bench: process.cpuUsage(), machine: machineCpu() };
  const started = performance.now();
  await Promise.all(
    writers.map(async (db) => {
      for (let batch = prepared[next++]; batch !== undefined; batch = prepared[next++]) {
        const storedBefore = stored;
        const begun = performance.now();
        // A failed batch is sent again, as a client (or the Data API adapter) would: event_ids make that safe.
        for (;;) {
          try {
            await recordInteractions(db, batch, tools.config.internal.emailDomains);
            break;
          } catch {
            failures++;
          }
        }
        batches.push({ storedBefore, ms: performance.now() - begun });
        stored += batch.length;
        if (fromMark === null && stored >= mark) fromMark = performance.now();
      }
    }),
  );
  const ended = performance.now();
  const bench = process.cpuUsage(cpuBefore.bench);
  const machine = machineCpu();
  const cpu = {
    serverUsPerInteraction: ((serverCpuMs(postmaster) - cpuBefore.server) * 1000) / tools.interactions,
    benchUsPerInteraction: (bench.user + bench.system) / tools.interactions,
    machineIdle: (machine.idle - cpuBefore.machine.idle) / (machine.total - cpuBefore.machine.total),
  };
  await Promise.all(writers.map((db) => db.close()));
  const window = latencyWindow(tools.interactions, mark);
  const latencies = (from: number, to: number) =>
    batches.filter((b) => b.storedBefore >= from && b.storedBefore < to).map((b) => b.ms);
  const early = latencies(mark, mark + window);
  const late = latencies(tools.interactions - window, tools.interactions);
  return {
    overall: tools.interactions / ((ended - started) / 1000),
    sustained: fromMark === null ? NaN : (tools.interactions - mark) / ((ended - fromMark) / 1000),
    mark,
    early: { median: quantile(early, 0.5), p95: quantile(early, 0.95), n: early.length },
    late: { median: quantile(late, 0.5), p95: quantile(late, 0.95), n: late.length },
    failures,
    window,
    cpu,
  };
}

/** Checkpoints, WAL volume and full-page images so far: what durability cost the run. */
async function walFigures(db: Database) {
  const [row] = await db.query<{ checkpoints: string; wal_bytes: string; wal_fpi: string }>(
    `SELECT (SELECT checkpoints_timed + checkpoints_req FROM pg_stat_bgwriter)::text AS checkpoints,
            (SELECT wal_bytes FROM pg_stat_wal)::text AS wal_bytes, (SELECT wal_fpi FROM pg_stat_wal)::text AS wal_fpi`,
  );
  return { checkpoints: Number(row!.checkpoints), walBytes: Number(row!.wal_bytes), fullPageImages: Number(row!.wal_fpi) };
}

const fmt = (ms: number) => `${ms.toFixed(2)} ms`;
const count = (n: number) => Math.round(n).toLocaleString('en');

export async function benchPostgres(tools: BenchTools): Promise<void> {
  console.log('\nPostgreSQL 16 (embedded-postgres, the major version Aurora runs), many writers at once:');
  const server = await startPostgres();
  const db = openPostgres(server.url, { maxConnections: 2 });
  const sampler = new pg.Client({ connectionString: server.url });
  try {
    await migrate(db, await loadSchema(SQL_DIR));
    const settings = await db.query<{ name: string; setting: string }>(
      'SELECT name, current_setting(name) AS setting FROM jsonb_array_elements_text(:names::jsonb) AS n(name)',
      { names: json(SETTINGS) },
    );
    console.log(`  settings: ${settings.map((s) => `${s.name}=${s.setting}`).join(', ')}`);
    // The server's own pid, first line of postmaster.pid: its processes' CPU time is read from /proc.
    const [pidRow] = await db.query<{ postmaster: number }>(
      "SELECT split_part(pg_read_file('postmaster.pid'), E'\\n', 1)::int AS postmaster",
    );
    const huge = hugePageMiB(pidRow!.postmaster);
    const [needed] = await db.query<{ pages: string }>("SELECT current_setting('shared_memory_size_in_huge_pages') AS pages");
    console.log(
      huge > 0
        ? `  memory: ${count(huge)} MiB of shared memory on huge pages, as RDS for PostgreSQL runs`
        : `  memory: on 4 KB pages, where RDS for PostgreSQL uses huge pages; on this two-core VM that cost about 40 % more server CPU per interaction.` +
            ` To measure as AWS runs, reserve them first (as root): sysctl -w vm.nr_hugepages=${needed!.pages}`,
    );
    const users = usersFor(tools.interactions);
    console.log(
      `  ingest: ${WRITERS} concurrent writers, ${BATCH}-item batches through the pg adapter, ${count(tools.interactions)} interactions over a year` +
        ` from ${count(users)} users and a team of ${TEAM_SIZE}...`,
    );
    await sampler.connect();
    await sampler.query('SELECT pg_stat_reset()');
    const deadlocksBefore = await deadlocks(db);
    const walBefore = await walFigures(db);
    const sampling = sampleWaits(sampler);
    const result = await ingest(server.url, pidRow!.postmaster, tools);
    const { waits, samples } = await sampling.stop();
    // Backends report their statistics when idle, at most once a second.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const deadlocksAfter = await deadlocks(db);
    const walAfter = await walFigures(db);

    console.log(`  ${count(result.overall)} interactions/s overall; ${count(result.sustained)} interactions/s sustained from ${count(result.mark)} to ${count(tools.interactions)} stored (target >= 20,000)`);
    console.log(
      `  batch latency at ${count(result.mark)} stored: median ${fmt(result.early.median)}, p95 ${fmt(result.early.p95)} (N=${result.early.n});` +
        ` at ${count(tools.interactions)}: median ${fmt(result.late.median)}, p95 ${fmt(result.late.p95)} (N=${result.late.n});` +
        ` p95 ratio ${(result.late.p95 / result.early.p95).toFixed(2)} (target <= 1.5; windows of ${count(result.window)} interactions)`,
    );
    console.log(
      `  CPU per interaction: server ${result.cpu.serverUsPerInteraction.toFixed(0)} µs, this bench's writers ${result.cpu.benchUsPerInteraction.toFixed(0)} µs;` +
        ` the machine was ${(100 * result.cpu.machineIdle).toFixed(1)} % idle during ingest`,
    );
    console.log(
      `  durability: ${walAfter.checkpoints - walBefore.checkpoints} checkpoints, ${((walAfter.walBytes - walBefore.walBytes) / 2 ** 30).toFixed(2)} GiB of WAL,` +
        ` ${count(walAfter.fullPageImages - walBefore.fullPageImages)} full-page images`,
    );
    console.log(`  deadlocks (pg_stat_database): ${deadlocksBefore} before, ${deadlocksAfter} after (target: unchanged); batches sent again after an error: ${result.failures}`);
    const busy = [...waits.values()].reduce((a, b) => a + b, 0);
    const top = [...waits].sort((a, b) => b[1] - a[1]).slice(0, 6);
    console.log(
      `  what busy writers were doing (${samples} samples every ${SAMPLE_EVERY_MS} ms): ` +
        top.map(([wait, n]) => `${wait} ${((100 * n) / Math.max(1, busy)).toFixed(1)} %`).join(', '),
    );
    const lockWaits = [...waits].filter(([wait]) => wait.startsWith('Lock:')).reduce((a, [, n]) => a + n, 0);
    console.log(`  waiting on a lock held by another writer: ${((100 * lockWaits) / Math.max(1, busy)).toFixed(1)} % of busy writer samples`);
    const logged = [...longWaits].sort((a, b) => b[1] - a[1]);
    console.log(`  lock waits over 200 ms (log_lock_waits): ${logged.length === 0 ? 'none' : logged.map(([where, n]) => `${n} ${where}`).join(', ')}`);

    // What autovacuum would have done by now on a server that has been taking this load.
    await db.query('VACUUM ANALYZE');
    const { config, now } = tools;
    const figures: Figure[] = [];
    figures.push(await tools.measure('headline (GET /metrics/days-since-last-interaction)', 200, () => readHeadline(db, config.internal)));
    const seedQuery = await tools.seedViewQuery(db);
    const seedFigure = await tools.measure("the seed's view query on the same data", 10, seedQuery);
    figures.push(seedFigure);
    figures.push(await tools.measure('pulse: headline + DAU/WAU/MAU (publisher)', 50, () => readPulse(db, config.internal, now)));
    figures.push(await tools.measure('last real interaction per type (summary)', 50, () => readLastRealByType(db, config.internal, config.countingTypes)));
    figures.push(
      await tools.measure('exclusions over 7 days (summary)', 50, () => readExclusions(db, config.internal, new Date(now.getTime() - 7 * DAY_MS))),
    );
    figures.push(await tools.measure('milestones (GET /metrics/milestones)', 50, () => readMilestoneProgress(db, config.internal, config.milestones, now)));
    figures.push(await tools.measure('90-day history (GET /metrics/history)', 50, () => readDailyHistory(db, config.internal, historyWindow(90, now))));
    console.log('  reads (median / p95 over N runs):');
    for (const figure of figures) console.log(`    ${figure.name.padEnd(56)} ${fmt(figure.medianMs).padStart(11)} ${fmt(figure.p95Ms).padStart(11)}  N=${figure.runs}`);
    console.log(
      `    headline target <= 2 ms median; history and milestones <= 20 ms; headline vs the seed's query: ${(seedFigure.medianMs / figures[0]!.medianMs).toFixed(0)}x faster`,
    );
  } finally {
    await sampler.end().catch(() => {});
    await db.close();
    await server.stop();
  }
}
