import { describe, expect, it } from 'vitest';
import { createIngestHandler } from '../../functions/handlers/ingest.js';
import { createMetricsHandler } from '../../functions/handlers/metrics.js';
import { databaseEmptiedForEachTest, get, post, testDeps } from '../support/harness.js';

// What a batch answers about each item must agree with what the number does with it afterwards.

const BEA = '0b0b0b0b-0000-4000-8000-00000000000b';
const CARL = '0c0c0c0c-0000-4000-8000-00000000000c';
const NOW = new Date('2026-02-08T12:00:00Z');

const db = databaseEmptiedForEachTest();

function service() {
  const deps = testDeps(db, { env: { INTERNAL_EMAIL_DOMAINS: 'sustainnet.io' }, now: () => NOW });
  return { ingest: createIngestHandler(deps), metrics: createMetricsHandler(deps) };
}

describe('verdicts within one batch', () => {
  it('excludes every item of a user the batch reveals internal, earlier items too, as the headline does', async () => {
    const { ingest, metrics } = service();
    const result = await ingest(
      post('/metrics/interactions', {
        interactions: [
          { event_id: 'b-1', user_id: BEA, interaction_type: 'login', occurred_at: '2026-02-08T10:00:00Z' },
          { event_id: 'b-2', user_id: BEA, interaction_type: 'agent_run', occurred_at: '2026-02-08T10:05:00Z', context: { internal: true } },
          { event_id: 'c-1', user_id: CARL, interaction_type: 'export', occurred_at: '2026-02-08T09:00:00Z' },
          { event_id: 'c-2', user_id: CARL, interaction_type: 'login', occurred_at: '2026-02-08T09:30:00Z', context: { email: 'carl@sustainnet.io' } },
        ],
      }),
    );
    expect(JSON.parse(result.body)).toEqual({
      status: 'recorded',
      recorded: 4,
      duplicates: 0,
      counted: 0,
      results: ['b-1', 'b-2', 'c-1', 'c-2'].map((event_id) => ({ event_id, status: 'recorded', counted: false, reason: 'internal_user' })),
    });
    const headline = JSON.parse((await metrics(get('/metrics/days-since-last-interaction'))).body);
    expect(headline).toMatchObject({ value: null, total_users: 0, status: 'no_users_yet' });
  });

  it('answers a repeated batch with the same verdicts, now from what the database knows', async () => {
    const { ingest } = service();
    const batch = {
      interactions: [
        { event_id: 'b-1', user_id: BEA, interaction_type: 'login' },
        { event_id: 'b-2', user_id: BEA, interaction_type: 'login', context: { internal: true } },
      ],
    };
    const first = JSON.parse((await ingest(post('/metrics/interactions', batch))).body).results;
    const again = JSON.parse((await ingest(post('/metrics/interactions', batch))).body).results;
    expect(first.map((verdict: { reason: string }) => verdict.reason)).toEqual(['internal_user', 'internal_user']);
    expect(again).toEqual(first.map((verdict: object) => ({ ...verdict, status: 'duplicate' })));
    const later = await ingest(post('/metrics/interaction', { event_id: 'b-3', user_id: BEA, interaction_type: 'login' }));
    expect(JSON.parse(later.body)).toEqual({ event_id: 'b-3', status: 'recorded', counted: false, reason: 'internal_user' });
  });
});
