import {
  InteractionBatchSchema,
  InteractionSchema,
  parseWith,
  type FieldProblem,
  type InteractionInput,
} from '../core/interaction.js';
import { timingProblems, toStore, verdicts } from '../core/recording.js';
import type { SnapshotStore } from '../core/snapshot.js';
import { snapshotTableFromEnv } from '../aws/snapshot-table.js';
import { recordInteractions } from '../db/interactions.js';
import { errorResult, invalid, jsonBody, jsonResult, RequestError, type ApiEvent, type ApiHandler } from './http.js';
import { methodNotAllowed } from './routes.js';
import { markSnapshotStale } from './stale-mark.js';
import { lazyAwsDeps } from './runtime.js';
import type { ServiceDeps } from './service.js';

export const MAX_SINGLE_BODY_BYTES = 64 * 1024;
export const MAX_BATCH_BODY_BYTES = 1024 * 1024;

export interface IngestDeps extends ServiceDeps {
  /** The publisher's snapshot, marked stale before anything is recorded (AWS: DynamoDB; locally: memory). */
  snapshots?: Pick<SnapshotStore, 'markStale'>;
}

/** (adapter) POST /metrics/interaction(s) --> validate, classify --> mark the snapshot stale --> one INSERT statement. */
export function createIngestHandler(deps: IngestDeps): ApiHandler {
  async function store(inputs: InteractionInput[]) {
    const now = deps.now();
    const toStoreList = inputs.map((input) => toStore(input, now, deps.newEventId, deps.config));
    await markSnapshotStale(deps.snapshots, now, deps.log);
    const outcomes = await recordInteractions(deps.db, toStoreList, deps.config.internal.emailDomains);
    return verdicts(toStoreList, outcomes, deps.config.internal);
  }

  async function recordOne(event: ApiEvent) {
    const parsed = parseWith(InteractionSchema, jsonBody(event, MAX_SINGLE_BODY_BYTES));
    if (!parsed.ok) throw invalid(parsed.problems);
    const problems = timingProblems(parsed.value, deps.now());
    if (problems.length > 0) throw invalid(problems);
    const [verdict] = await store([parsed.value]);
    return jsonResult(verdict!.status === 'recorded' ? 202 : 200, verdict);
  }

  async function recordBatch(event: ApiEvent) {
    const parsed = parseWith(InteractionBatchSchema, jsonBody(event, MAX_BATCH_BODY_BYTES));
    if (!parsed.ok) throw invalid(parsed.problems);
    const now = deps.now();
    const problems: FieldProblem[] = parsed.value.interactions.flatMap((item, index) =>
      timingProblems(item, now, `interactions.${index}.occurred_at`),
    );
    if (problems.length > 0) throw invalid(problems);
    const results = await store(parsed.value.interactions);
    const recorded = results.filter((result) => result.status === 'recorded');
    return jsonResult(recorded.length > 0 ? 202 : 200, {
      status: recorded.length > 0 ? 'recorded' : 'duplicate',
      recorded: recorded.length,
      duplicates: results.length - recorded.length,
      counted: recorded.filter((result) => result.counted).length,
      results,
    });
  }

  return async (event) => {
    try {
      const refusal = methodNotAllowed(event.httpMethod, event.path);
      if (refusal) return refusal;
      if (event.path === '/metrics/interaction') return await recordOne(event);
      if (event.path === '/metrics/interactions') return await recordBatch(event);
      throw new RequestError(404, 'not_found', `no route for ${event.path}`);
    } catch (error) {
      return errorResult(error, deps.log);
    }
  };
}

export const handler = lazyAwsDeps((deps) => createIngestHandler({ ...deps, snapshots: snapshotTableFromEnv(process.env) }));
