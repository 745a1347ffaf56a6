// npm run bench, self-hosting section (issue 21): `npm start` with DATABASE_URL on PostgreSQL 16, measured from outside
// as an operator's product backend would see it: over HTTP, 4 clients sending 500-item batches to BENCH_INTERACTIONS.
import { loadLocalSettings } from '../functions/local/service.js';
import { startServerProcess } from '../test/support/processes.js';
import { quantile } from './figures.js';
import { startPostgres } from './postgres.js';
import { runLoad } from './load.js';

const BATCH = 500;
const CLIENTS = 4;
/** "A fresh database as fast in its first 100,000 interactions as later" (half the run when it is smaller). */
const firstPart = (total: number) => Math.min(100_000, Math.floor(total / 2));

const ms = (value: number) => `${value.toFixed(0)} ms`;
const count = (n: number) => Math.round(n).toLocaleString('en');

export async function benchSelfHosting(total: number): Promise<void> {
  console.log(
    `\nSelf-hosting: npm start with DATABASE_URL on PostgreSQL 16 (embedded, durable, shared memory on 4 KB pages), ${CLIENTS} clients` +
      ` sending ${BATCH}-item batches over HTTP to ${count(total)} stored (a backfill: nine in ten users new, backdated over a year):`,
  );
  const postgres = await startPostgres({ hugePages: false });
  const server = startServerProcess('node', { DATABASE_URL: postgres.url });
  try {
    const url = await server.ready;
    const batches = Math.ceil(total / BATCH);
    const run = await runLoad(
      { url, total: batches, concurrency: CLIENTS, perRequest: BATCH, firstEvent: 20_000_000, users: 0, spreadDays: 365, latencies: true, progressEvery: Math.max(1, Math.round(batches / 10)) },
      (requests, seconds) => console.log(`  ${count(requests * BATCH)} stored, ${count((requests * BATCH) / seconds)} interactions/s so far`),
    );
    // Latencies come in completion order: the i-th one completed with (i + 1) batches stored.
    const first = firstPart(total);
    const early = run.latencies.filter((_, i) => (i + 1) * BATCH <= first);
    const late = run.latencies.filter((_, i) => (i + 1) * BATCH > total - first);
    const { statementTimeoutMs } = loadLocalSettings(process.env);
    console.log(`  ${count((batches * BATCH) / run.seconds)} interactions/s overall (target >= 10,000); ${run.failures} posts failed`);
    console.log(
      `  batch p95 in the first ${count(first)}: ${ms(quantile(early, 0.95))} (target <= 500 ms); in the last ${count(first)}: ${ms(quantile(late, 0.95))};` +
        ` median ${ms(quantile(early, 0.5))} and ${ms(quantile(late, 0.5))}; slowest batch ${ms(Math.max(...run.latencies))}` +
        ` (the server's statement_timeout: ${statementTimeoutMs === 0 ? 'none' : ms(statementTimeoutMs)})`,
    );
    server.child.kill('SIGTERM');
    await server.exit;
  } finally {
    if (server.child.exitCode === null && server.child.signalCode === null) server.child.kill('SIGKILL');
    await server.exit;
    await postgres.stop();
  }
}
