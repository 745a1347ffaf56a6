// Runs in a worker thread: the load comes from another core, as a product backend's would, so the figures
// measure the server and not the client competing with it for one event loop. Plain JavaScript: a worker
// thread does not inherit tsx's loader on Node 20.
import { performance } from 'node:perf_hooks';
import { parentPort, workerData } from 'node:worker_threads';

const userId = (n) => `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
const TYPES = ['signup', 'login', 'coach_call', 'agent_run', 'decision', 'export', 'feedback', 'payment', 'page_view'];
const DAY_MS = 86_400_000;

/**
 * The plan (see LoadPlan in run.ts and OrderPlan in pglite-order.ts): `total` requests of `perRequest` interactions
 * from `concurrency` clients. Optional: `spreadDays` backdates each interaction over that many days and picks mostly
 * new users (a backfill; `users` is then unused); `latencies` returns each request's time in completion order; `probeHealthz` asks for
 * /healthz every 50 ms from its own client while the load runs; `progressEvery` posts progress every that many requests.
 */
async function run(plan) {
  const started = performance.now();
  // A backfill as issue 10 describes it, mostly new users at every size: nine interactions in ten from a user never
  // seen before, the tenth from one seen earlier in the run (a multiplicative hash of its position picks which).
  const backfillUser = (n) => {
    const k = n - plan.firstEvent;
    return k % 10 !== 0 || k === 0 ? n : plan.firstEvent + Number((BigInt(k) * 2654435761n) % BigInt(k));
  };
  const user = (n) => (plan.spreadDays ? backfillUser(n) : n % plan.users);
  const occurredAt = (n) =>
    plan.spreadDays ? { occurred_at: new Date(Date.now() - 60_000 - ((n * 7919) % (plan.spreadDays * 1440)) * 60_000).toISOString() } : {};
  const item = (n) => ({ event_id: `http-${n}`, user_id: userId(user(n)), interaction_type: TYPES[n % TYPES.length], ...occurredAt(n) });
  const body = (request) =>
    plan.perRequest === 1
      ? JSON.stringify(item(plan.firstEvent + request))
      : JSON.stringify({
          interactions: Array.from({ length: plan.perRequest }, (_, j) => item(plan.firstEvent + request * plan.perRequest + j)),
        });
  const path = plan.perRequest === 1 ? '/metrics/interaction' : '/metrics/interactions';
  let next = 0;
  let done = 0;
  let failures = 0;
  const latencies = [];
  const healthz = [];
  let healthzFailures = 0;
  let loading = true;
  const probe = (async () => {
    while (plan.probeHealthz && loading) {
      const asked = performance.now();
      try {
        const response = await fetch(`${plan.url}/healthz`);
        await response.arrayBuffer();
        healthz.push(performance.now() - asked);
      } catch {
        healthzFailures++;
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  })();
  await Promise.all(
    Array.from({ length: plan.concurrency }, async () => {
      while (next < plan.total) {
        const sent = performance.now();
        try {
          const response = await fetch(`${plan.url}${path}`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: body(next++),
          });
          if (response.status >= 300) failures++;
          await response.arrayBuffer();
        } catch {
          // A connection reset is what a backend would see: counted, not fatal to the run.
          failures++;
        }
        if (plan.latencies) latencies.push(performance.now() - sent);
        if (plan.progressEvery && ++done % plan.progressEvery === 0) {
          parentPort?.postMessage({ progress: { requests: done, seconds: (performance.now() - started) / 1000 } });
        }
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  loading = false;
  await probe;
  return { requestsPerSecond: plan.total / seconds, seconds, failures, latencies, healthz, healthzFailures };
}

parentPort?.postMessage(await run(workerData));
