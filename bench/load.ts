import { Worker } from 'node:worker_threads';

/** What bench/load.mjs sends, from a worker thread so the load does not share the server's event loop. */
export interface LoadPlan {
  url: string;
  total: number;
  concurrency: number;
  /** Interactions per request: 1 goes to /metrics/interaction, more to /metrics/interactions. */
  perRequest: number;
  firstEvent: number;
  users: number;
  /** A backfill: nine in ten users new, each interaction backdated up to this many days. */
  spreadDays?: number;
  /** Keep each request's time. */
  latencies?: boolean;
  /** Ask /healthz every 50 ms while the load runs. */
  probeHealthz?: boolean;
  /** Report progress every this many requests. */
  progressEvery?: number;
}

/** What bench/load.mjs measured. */
export interface LoadFigures {
  requestsPerSecond: number;
  seconds: number;
  failures: number;
  /** Each request's time in ms, in the order they completed (empty unless the plan asked for them). */
  latencies: number[];
  /** Each /healthz answer's time in ms (empty unless the plan asked for probes). */
  healthz: number[];
  healthzFailures: number;
}

/** Runs `plan` in bench/load.mjs on a worker thread; `progress` hears each report it sends on the way. */
export function runLoad(plan: LoadPlan, progress: (requests: number, seconds: number) => void = () => {}): Promise<LoadFigures> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./load.mjs', import.meta.url), { workerData: plan });
    worker.on('message', (message: LoadFigures | { progress: { requests: number; seconds: number } }) => {
      if ('progress' in message) progress(message.progress.requests, message.progress.seconds);
      else resolve(message);
    });
    worker.once('error', reject);
  });
}
