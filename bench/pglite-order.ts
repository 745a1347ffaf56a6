// Issue 10: recording's cost must not grow with history in any traffic order, and the local server must keep
// answering while ingest runs at full speed. Two runs of `npm start`'s own service side by side, each to
// BENCH_INTERACTIONS stored: batches only (in memory), and single requests first, then batches (in a DATA_DIR folder).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLocalService } from '../functions/local/service.js';
import { startServerProcess } from '../test/support/processes.js';
import { latencyWindow, quantile } from './figures.js';
import { runLoad } from './load.js';

const BATCH = 500;
const SINGLES = 4000;

interface OrderFigures {
  name: string;
  earlyMark: number;
  /** Interactions in each of the two windows the p95s are taken over. */
  window: number;
  p95Early: number;
  p95Late: number;
  interactionsPerSecond: number;
  healthzP99: number;
  healthzMax: number;
  healthzProbes: number;
  healthzFailures: number;
  failures: number;
  /** Single requests per second, when the run began with them. */
  singlesPerSecond: number | null;
  /** GET /metrics/summary over HTTP once the run is done: median and p95 of 50. */
  summaryMedian: number;
  summaryP95: number;
}

/** GET `path` 5 times to warm up, then `runs` times: the median and p95 of those. */
async function timeGets(url: string, runs: number): Promise<{ median: number; p95: number }> {
  const times: number[] = [];
  for (let i = 0; i < runs + 5; i++) {
    const asked = performance.now();
    await (await fetch(url)).arrayBuffer();
    if (i >= 5) times.push(performance.now() - asked);
  }
  return { median: quantile(times, 0.5), p95: quantile(times, 0.95) };
}

async function runOrder(name: string, total: number, singlesFirst: boolean, dataDir: string, env: Record<string, string> = {}): Promise<OrderFigures> {
  const service = await startLocalService({ PORT: '0', DATA_DIR: dataDir, PUBLISH_INTERVAL_SECONDS: '0', ...env }, { print: () => {} });
  try {
    let stored = 0;
    let failures = 0;
    let singlesPerSecond: number | null = null;
    if (singlesFirst) {
      const singles = await runLoad({ url: service.url, total: SINGLES, concurrency: 32, perRequest: 1, firstEvent: 0, users: 300 });
      stored += SINGLES;
      failures += singles.failures;
      singlesPerSecond = singles.requestsPerSecond;
      console.log(`  ${name}: ${SINGLES.toLocaleString('en')} single interactions from 32 clients, ${Math.round(singles.requestsPerSecond)} requests/s`);
    }
    const batches = Math.max(20, Math.ceil((total - stored) / BATCH));
    const ingest = await runLoad(
      {
        url: service.url,
        total: batches,
        concurrency: 4,
        perRequest: BATCH,
        firstEvent: 10_000_000,
        // Unused by a backfill, which picks its own users (load.mjs): nine in ten new at every size.
        users: 0,
        spreadDays: 365,
        latencies: true,
        probeHealthz: true,
        progressEvery: Math.max(1, Math.round(batches / 10)),
      },
      (requests, seconds) =>
        console.log(
          `  ${name}: ${(stored + requests * BATCH).toLocaleString('en')} stored, ${Math.round((requests * BATCH) / seconds).toLocaleString('en')} interactions/s so far`,
        ),
    );
    failures += ingest.failures;
    // Equal windows of batches, as the PostgreSQL section takes them: those that completed from a tenth of the total
    // (or later, when the single requests and the first batches are still most of it) and those up to the total.
    const storedAfter = (i: number) => stored + (i + 1) * BATCH;
    const earlyMark = Math.max(total / 10, stored + 20 * BATCH);
    const size = latencyWindow(total, earlyMark);
    const window = (from: number) => ingest.latencies.filter((_, i) => storedAfter(i) > from && storedAfter(i) <= from + size);
    const summary = await timeGets(`${service.url}/metrics/summary`, 50);
    return {
      name,
      earlyMark,
      window: size,
      p95Early: quantile(window(earlyMark), 0.95),
      p95Late: quantile(window(total - size), 0.95),
      interactionsPerSecond: (batches * BATCH) / ingest.seconds,
      healthzP99: quantile(ingest.healthz, 0.99),
      healthzMax: Math.max(...ingest.healthz),
      healthzProbes: ingest.healthz.length,
      healthzFailures: ingest.healthzFailures,
      failures,
      singlesPerSecond,
      summaryMedian: summary.median,
      summaryP95: summary.p95,
    };
  } finally {
    await service.close();
  }
}

/** Prints, for each order, batch p95 just after a tenth of `total` and just before `total`, sustained rate, and /healthz p99. */
export async function benchTrafficOrder(total: number): Promise<void> {
  console.log(`\nTraffic order on the local server (npm start's service over HTTP on 127.0.0.1), each run to ${total.toLocaleString('en')} stored:`);
  console.log('batches of 500 from 4 clients, nine in ten interactions from users never seen before, backdated over a year; /healthz asked every 50 ms meanwhile.');
  const folder = mkdtempSync(join(tmpdir(), 'days-since-order-'));
  const figures: OrderFigures[] = [];
  let restarts: RestartTimes[] = [];
  try {
    figures.push(await runOrder('batches only (memory)', total, false, 'memory'));
    figures.push(await runOrder('singles first, then batches (DATA_DIR folder)', total, true, join(folder, 'data')));
    restarts = await restartTimes(join(folder, 'data'));
    // The price of a 202 that survives an operating-system crash: the same run, in a folder that does not wait for the disk.
    figures.push(await runOrder('the same, PGLITE_FSYNC=off', total, true, join(folder, 'fast'), { PGLITE_FSYNC: 'off' }));
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
  const at = (n: number) => (n >= 1_000_000 ? `${n / 1_000_000}M` : `${Math.round(n / 1000)}k`);
  const ms = (value: number) => `${value.toFixed(0)} ms`;
  console.log(
    `\n  ${'order'.padEnd(48)} ${'p95 early'.padStart(16)} ${`p95 @${at(total)}`.padStart(11)} ${'ratio'.padStart(6)} ${'interactions/s'.padStart(15)} ${'healthz p99'.padStart(12)} ${'max'.padStart(8)}`,
  );
  for (const f of figures) {
    console.log(
      `  ${f.name.padEnd(48)} ${`${ms(f.p95Early)} @${at(f.earlyMark)}`.padStart(16)} ${ms(f.p95Late).padStart(11)} ${(f.p95Late / f.p95Early).toFixed(2).padStart(6)} ${Math.round(f.interactionsPerSecond).toLocaleString('en').padStart(15)} ${ms(f.healthzP99).padStart(12)} ${ms(f.healthzMax).padStart(8)}   (windows of ${Math.round(f.window).toLocaleString('en')}; ${f.healthzProbes} probes, ${f.healthzFailures} unanswered; ${f.failures} posts failed)`,
    );
  }
  console.log(
    '  p95 over the batches that completed in a window of interactions after the early mark, and in as many up to the end;' +
      ' targets: ratio <= 1.5, >= 8,000 interactions/s on PGlite in either order, /healthz p99 <= 250 ms',
  );
  for (const f of figures) {
    console.log(
      `  ${f.name.padEnd(48)} GET /metrics/summary at ${at(total)}: median ${ms(f.summaryMedian)}, p95 ${ms(f.summaryP95)} (target <= 50 ms)` +
        (f.singlesPerSecond === null ? '' : `; the ${SINGLES.toLocaleString('en')} single requests first: ${Math.round(f.singlesPerSecond).toLocaleString('en')}/s`),
    );
  }
  for (const r of restarts) {
    console.log(
      `  npm start on that folder (${at(total)} stored, fsync on), after ${r.after.padEnd(13)} port answering ${ms(r.answering)}, database open ${ms(r.ready)}, first 202 ${ms(r.first202)} after the process started`,
    );
  }
}

interface RestartTimes {
  after: string;
  answering: number;
  ready: number;
  first202: number;
}

/**
 * `npm start` on a folder that holds the run's data, started twice: after a clean stop, and after a kill -9 of the
 * first. From the process's start: the port answering (a 503 while the database opens), the database open, the first 202.
 */
async function restartTimes(dataDir: string): Promise<RestartTimes[]> {
  const times: RestartTimes[] = [];
  for (const after of ['a clean stop', 'a kill -9']) {
    const started = performance.now();
    const server = startServerProcess('node', { DATA_DIR: dataDir });
    let answering = NaN;
    let first202 = NaN;
    let ready = NaN;
    void server.ready.then(() => (ready = performance.now() - started), () => {});
    for (let n = 0; Number.isNaN(first202) && server.child.exitCode === null; n++) {
      const url = `http://127.0.0.1:${await server.url.then((u) => new URL(u).port)}`;
      const asked = await fetch(`${url}/metrics/interaction`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ event_id: `restart-${after}-${n}`, user_id: '00000000-0000-4000-8000-000000000001', interaction_type: 'login' }),
      }).catch(() => null);
      if (asked && Number.isNaN(answering)) answering = performance.now() - started;
      if (asked?.status === 202) first202 = performance.now() - started;
      await asked?.arrayBuffer();
      if (Number.isNaN(first202)) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    times.push({ after, answering, ready, first202 });
    // The first start ends with a kill -9, so that the second starts after one.
    server.child.kill(after === 'a clean stop' ? 'SIGKILL' : 'SIGTERM');
    await server.exit;
  }
  return times;
}
