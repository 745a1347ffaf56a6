// Runs in a worker thread: the load comes from another core, as a product backend's would, so the figures
// measure the server and not the client competing with it for one event loop. Plain JavaScript: a worker
// thread does not inherit tsx's loader on Node 20.
import { performance } from 'node:perf_hooks';
import { parentPort, workerData } from 'node:worker_threads';

const userId = (n) => `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
const TYPES = ['signup', 'login', 'coach_call', 'agent_run', 'decision', 'export', 'feedback', 'payment', 'page_view'];

/** @param {import('./run.ts').LoadPlan} plan */
async function run(plan) {
  const item = (n) => ({ event_id: `http-${n}`, user_id: userId(n % plan.users), interaction_type: TYPES[n % TYPES.length] });
  const body = (request) =>
    plan.perRequest === 1
      ? JSON.stringify(item(plan.firstEvent + request))
      : JSON.stringify({
          interactions: Array.from({ length: plan.perRequest }, (_, j) => item(plan.firstEvent + request * plan.perRequest + j)),
        });
  const path = plan.perRequest === 1 ? '/metrics/interaction' : '/metrics/interactions';
  let next = 0;
  let failures = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: plan.concurrency }, async () => {
      while (next < plan.total) {
        const response = await fetch(`${plan.url}${path}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: body(next++),
        });
        if (response.status >= 300) failures++;
        await response.arrayBuffer();
      }
    }),
  );
  return { requestsPerSecond: plan.total / ((performance.now() - started) / 1000), failures };
}

parentPort?.postMessage(await run(workerData));
