import {
  InteractionBatchSchema,
  InteractionSchema,
  parseWith,
  type FieldProblem,
  type InteractionInput,
} from '../core/interaction.js';
import { IDEMPOTENCY_KEY_HEADER, parseIdempotencyKey } from '../core/event-identity.js';
import { recordInteractions } from '../db/interactions.js';
import { timingProblems, toStore, verdicts, type InteractionToStore, type StoredOutcome } from '../core/recording.js';
import { bufferTableFromEnv } from '../aws/buffer-table.js';
import { DatabaseUnavailableError } from '../db/port.js';
import { errorResult, header, invalid, jsonBody, jsonResult, RequestError, type ApiEvent, type ApiHandler } from './http.js';
import { methodNotAllowed } from './routes.js';
import { dynamoClient, lazyAwsBaseDeps } from './runtime.js';
import type { ServiceDeps } from './service.js';

export const MAX_SINGLE_BODY_BYTES = 64 * 1024;
export const MAX_BATCH_BODY_BYTES = 1024 * 1024;

/** Seconds a client waits before retrying when the buffer could not take the interactions. */
const BUFFER_RETRY_AFTER_SECONDS = 2;

/**
 * Where accepted interactions go: in AWS the buffer (DynamoDB), folded into Aurora later; locally straight into the
 * database. One outcome per interaction, in order; a duplicate carries the original's stored verdict.
 */
export type Accept = (interactions: readonly InteractionToStore[], now: Date) => Promise<StoredOutcome[]>;

export interface IngestDeps extends Pick<ServiceDeps, 'config' | 'now' | 'newEventId' | 'log'>, Partial<Pick<ServiceDeps, 'db'>> {
  /** @default recordAtOnce(deps): straight into `db`, as `npm start` does */
  accept?: Accept;
}

/** The local way: one recording statement, at once (`afterRecording` tells the local snapshot it is out of date). */
export function recordAtOnce(deps: Pick<ServiceDeps, 'db' | 'config'>, afterRecording: () => void = () => {}): Accept {
  return async (interactions) => {
    const outcomes = await recordInteractions(deps.db, interactions, deps.config.internal.emailDomains);
    afterRecording();
    return outcomes;
  };
}

/** (adapter) POST /metrics/interaction(s) --> validate, classify --> accept (buffer, or the database locally) --> verdicts. */
export function createIngestHandler(deps: IngestDeps): ApiHandler {
  const accept = deps.accept ?? (deps.db ? recordAtOnce({ db: deps.db, config: deps.config }) : undefined);
  if (!accept) throw new Error('ingest needs somewhere to put interactions: accept, or a database');

  /** The request's Idempotency-Key, if it sent one: each item without an event_id is stored under an id derived from it. */
  function idempotencyKeyOf(event: ApiEvent): string | undefined {
    const parsed = parseIdempotencyKey(header(event, IDEMPOTENCY_KEY_HEADER));
    if (!parsed.ok) throw invalid(parsed.problems);
    return parsed.value;
  }

  async function store(inputs: InteractionInput[], idempotencyKey: string | undefined, batch: boolean) {
    const now = deps.now();
    const toStoreList = inputs.map((input, index) =>
      toStore(input, now, deps.newEventId, deps.config, { idempotencyKey, ...(batch ? { index } : {}) }),
    );
    return verdicts(toStoreList, await accept!(toStoreList, now), deps.config.internal);
  }

  async function recordOne(event: ApiEvent) {
    const parsed = parseWith(InteractionSchema, jsonBody(event, MAX_SINGLE_BODY_BYTES));
    if (!parsed.ok) throw invalid(parsed.problems);
    const problems = timingProblems(parsed.value, deps.now());
    if (problems.length > 0) throw invalid(problems);
    const [verdict] = await store([parsed.value], idempotencyKeyOf(event), false);
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
    const results = await store(parsed.value.interactions, idempotencyKeyOf(event), true);
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

/** The AWS way: each interaction written to the buffer, conditional on its event_id; Aurora is never called. */
export function acceptIntoBuffer(buffer: ReturnType<typeof bufferTableFromEnv>, log: IngestDeps['log']): Accept {
  return async (interactions, now) => {
    try {
      return await buffer.accept(interactions, now.getTime());
    } catch (error) {
      // Throttled or unreachable after the SDK's own retries: what was written is kept, and a retry finds it a duplicate.
      log.warn('could not write to the buffer', { errorName: (error as Error)?.name ?? typeof error });
      throw new DatabaseUnavailableError(BUFFER_RETRY_AFTER_SECONDS);
    }
  };
}

export const handler = lazyAwsBaseDeps((deps) =>
  createIngestHandler({ ...deps, accept: acceptIntoBuffer(bufferTableFromEnv(process.env, dynamoClient()), deps.log) }),
);
