import { ScanCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { currentFigures } from '../../functions/core/current-figures.js';
import { configFingerprint } from '../../functions/core/snapshot.js';
import { summaryResponse } from '../../functions/core/summary.js';
import { forgetUser } from '../../functions/db/users.js';
import { readDatabaseFigures } from '../../functions/handlers/figures.js';
import { changeUser } from '../../functions/handlers/fold.js';
import type { ApiEvent } from '../../functions/handlers/http.js';
import { createIngestHandler, recordAtOnce } from '../../functions/handlers/ingest.js';
import { createMetricsHandler } from '../../functions/handlers/metrics.js';
import { changeAtOnce, changeUnderLease, createUsersHandler } from '../../functions/handlers/users.js';
import { memorySnapshotStore } from '../../functions/local/snapshot-store.js';
import { bufferedService } from '../support/buffered-service.js';
import { startDynalite, type DynamoStandIn } from '../support/dynalite.js';
import { databaseEmptiedForEachTest, get, post, testClock, testDeps } from '../support/harness.js';
import { expectRollupsToEqualRecount } from '../support/recount.js';
import { SN1MA_MILESTONES } from '../support/sn1ma.js';

// DELETE /users forgets a user; DELETE /internal-users takes back context.internal: true. Both must leave every read
// as a recount of what is left gives it, on every engine; in AWS too, where the buffer holds what waits for the fold and
// the verdicts it remembers for duplicates, and the figures come from a snapshot plus the buffer.

const NOW = '2026-03-01T12:00:00Z';
const DAY = 86_400_000;
const FORGOTTEN = 'user_8f3a';
const db = databaseEmptiedForEachTest();

const remove = (path: string, userId?: string): ApiEvent => ({
  httpMethod: 'DELETE',
  path,
  headers: {},
  body: null,
  isBase64Encoded: false,
  queryStringParameters: userId === undefined ? null : { user_id: userId },
});

function service(env: Record<string, string> = {}) {
  const clock = testClock(NOW);
  const snapshots = memorySnapshotStore();
  const deps = testDeps(db, { now: clock.now, env: { INTERNAL_EMAIL_DOMAINS: 'team.example', MILESTONES: SN1MA_MILESTONES, ...env } });
  // As npm start wires them: each write tells the local snapshot it is out of date.
  const ingest = createIngestHandler({ ...deps, accept: recordAtOnce(deps, () => snapshots.invalidate()) });
  const metrics = createMetricsHandler(deps);
  const users = createUsersHandler({ ...deps, changes: changeAtOnce(db, () => snapshots.invalidate()) });
  return {
    clock,
    snapshots,
    async send(interactions: object[]) {
      for (let i = 0; i < interactions.length; i += 500) {
        const result = await ingest(post('/metrics/interactions', { interactions: interactions.slice(i, i + 500) }));
        expect(result.statusCode).toBe(202);
      }
    },
    async users(path: string, userId?: string) {
      const result = await users(remove(path, userId));
      return { status: result.statusCode, body: JSON.parse(result.body) };
    },
    /** Everything the API reads, for the same instant. */
    async reads() {
      const read = async (path: string, query: Record<string, string> | null = null) => JSON.parse((await metrics(get(path, query))).body);
      return {
        headline: await read('/metrics/days-since-last-interaction'),
        summary: await read('/metrics/summary'),
        milestones: await read('/metrics/milestones'),
        history: await read('/metrics/history', { days: '90' }),
      };
    },
  };
}

/** Ninety days of traffic from a few users: logins, payments, page views, a test and a script, a team member. */
function traffic(users: readonly string[], prefix: string) {
  return users.flatMap((user, u) =>
    Array.from({ length: 12 }, (_, i) => ({
      event_id: `${prefix}-${u}-${i}`,
      user_id: user,
      interaction_type: (['login', 'payment', 'page_view', 'report_viewed', 'signup', 'coach_call'] as const)[(u + i) % 6],
      occurred_at: new Date(Date.parse(NOW) - ((u * 7 + i * 11) % 90) * DAY - i * 3_600_000).toISOString(),
      context: {
        ...(i % 5 === 0 ? { email: `${prefix}${u}@mail${u % 2}.example` } : {}),
        ...(i === 7 ? { test: true } : {}),
        ...(i === 9 ? { user_agent: 'curl/8.5.0' } : {}),
      },
    })),
  );
}

const OTHERS = ['42', 'Ana', 'ana', '9b2f1c3e-8a4d-4e5f-9a6b-7c8d9e0f1a2b'];

/** Every row of every table the service writes whose text mentions `text`. */
async function rowsMentioning(text: string): Promise<string[]> {
  const tables = ['interactions', 'users', 'user_email_domains', 'real_users', 'real_user_activity', 'daily_real_activity'];
  const found: string[] = [];
  for (const table of tables) {
    const rows = await db.query<{ row: string }>(`SELECT t::text AS row FROM ${table} t`);
    for (const { row } of rows) if (row.includes(text)) found.push(`${table}: ${row}`);
  }
  return found;
}

describe('DELETE /users', () => {
  it('forgets a user: every read is what it was before they came, and every rollup equals a recount', async () => {
    const { send, users, reads } = service({ INTERACTION_TYPES: 'signup,login,payment,report_viewed,coach_call' });
    await send(traffic(OTHERS, 'o'));
    const without = await reads();
    // Their first days come before, between and after the others'; one of them is a team address.
    await send([
      ...traffic([FORGOTTEN], 'f'),
      { event_id: 'f-team', user_id: FORGOTTEN, interaction_type: 'login', occurred_at: '2026-02-27T10:00:00Z', context: { email: 'x@forgotten.example' } },
    ]);
    expect(await reads()).not.toEqual(without);
    expect(await rowsMentioning(FORGOTTEN)).not.toEqual([]);

    expect(await users('/users', FORGOTTEN)).toEqual({ status: 200, body: { user_id: FORGOTTEN, status: 'forgotten', interactions: 13 } });
    expect(await rowsMentioning(FORGOTTEN)).toEqual([]);
    expect(await rowsMentioning('forgotten.example')).toEqual([]);
    await expectRollupsToEqualRecount(db);
    expect(await reads()).toEqual(without);
  });

  it('forgets only that user: ids are case-sensitive, but a UUID in capitals names its user', async () => {
    const { send, users } = service();
    await send(traffic(OTHERS, 'o'));
    expect((await users('/users', 'ANA')).body.interactions).toBe(0);
    expect((await users('/users', 'Ana')).body.interactions).toBe(12);
    expect((await users('/users', OTHERS[3]!.toUpperCase())).body).toEqual({ user_id: OTHERS[3], status: 'forgotten', interactions: 12 });
    expect((await db.query('SELECT DISTINCT user_id FROM interactions ORDER BY 1')).map((row) => row.user_id)).toEqual(['42', 'ana']);
    await expectRollupsToEqualRecount(db);
  });

  it('answers 200 again for a user already forgotten, so a retried request is safe', async () => {
    const { send, users } = service();
    await send(traffic(['42'], 'o'));
    expect((await users('/users', '42')).body.interactions).toBe(12);
    expect(await users('/users', '42')).toEqual({ status: 200, body: { user_id: '42', status: 'forgotten', interactions: 0 } });
  });

  it('makes the local publisher take a new snapshot: the one it kept is out of date', async () => {
    const { send, users, snapshots } = service();
    await send(traffic(['42'], 'o'));
    const kept = { takenAt: new Date(NOW), fingerprint: 'f', snapshot: null, folded: new Set<string>() };
    await snapshots.refresh(async () => kept);
    expect(await snapshots.read()).toEqual(kept);
    await users('/users', '42');
    expect(await snapshots.read()).toBeNull();
  });

  it.each([
    ['no user_id', undefined, 'user_id is required: ?user_id=<the id, percent-encoded>'],
    ['an empty user_id', '', 'user_id must not be empty'],
    ['a user_id over 128 characters', 'x'.repeat(129), 'user_id must be at most 128 characters'],
  ])('refuses %s by name, and forgets nothing', async (_, userId, message) => {
    const { send, users } = service();
    await send(traffic(['42'], 'o'));
    expect(await users('/users', userId)).toEqual({ status: 400, body: expect.objectContaining({ error: 'invalid_request', message }) });
    expect(await db.query('SELECT count(*)::int AS n FROM interactions')).toEqual([{ n: 12 }]);
  });
});

describe('DELETE /internal-users', () => {
  it('takes back context.internal: true: the user counts again in every read, and every rollup equals a recount', async () => {
    const { send, users, reads } = service();
    await send(traffic(['42'], 'o'));
    const counted = await reads();
    // One demo flagged internal hides the user's whole history.
    await send([{ event_id: 'demo', user_id: 'user_8f3a', interaction_type: 'login', occurred_at: '2026-02-01T09:00:00Z', context: { internal: true } }]);
    await send(traffic(['user_8f3a'], 'm'));
    const hidden = await reads();
    expect(hidden.headline.total_users).toBe(1);

    expect(await users('/internal-users', 'user_8f3a')).toEqual({
      status: 200,
      body: { user_id: 'user_8f3a', status: 'unmarked', interactions: 1, internal: false },
    });
    await expectRollupsToEqualRecount(db);
    const after = await reads();
    expect(after.headline.total_users).toBe(2);
    expect(after).not.toEqual(counted);
    // The same as if the demo had never carried the flag (forgotten, the same event ids record anew).
    await users('/users', 'user_8f3a');
    await send([{ event_id: 'demo', user_id: 'user_8f3a', interaction_type: 'login', occurred_at: '2026-02-01T09:00:00Z' }]);
    await send(traffic(['user_8f3a'], 'm'));
    expect(await reads()).toEqual(after);
  });

  it('leaves a user internal that the configuration names, and says so', async () => {
    const { send, users, reads } = service({ INTERNAL_USER_IDS: 'founder' });
    await send([
      { user_id: 'founder', interaction_type: 'login', context: { internal: true } },
      { user_id: 'cto', interaction_type: 'login', context: { internal: true, email: 'cto@eu.team.example' } },
    ]);
    expect((await users('/internal-users', 'founder')).body).toEqual({ user_id: 'founder', status: 'unmarked', interactions: 1, internal: true });
    expect((await users('/internal-users', 'cto')).body).toMatchObject({ internal: true });
    expect((await reads()).headline.total_users).toBe(0);
    await expectRollupsToEqualRecount(db);
  });

  it('answers 404 for a user never seen, and changes nothing', async () => {
    const { users } = service();
    expect(await users('/internal-users', 'nobody')).toEqual({
      status: 404,
      body: { error: 'not_found', message: 'no interaction was ever recorded for this user_id' },
    });
  });
});

describe('forgetting while the user is still being recorded', () => {
  it('leaves the rollups equal to a recount whichever commits first', async () => {
    const { send, users } = service();
    await send(traffic(['42', FORGOTTEN], 'o'));
    // Writers of the same user racing the forget: each either lands before it (and is deleted) or after (and stays whole).
    for (let round = 0; round < 10; round++) {
      await Promise.all([
        ...Array.from({ length: 4 }, (_, w) => send(traffic([FORGOTTEN, '42'], `r${round}-${w}`))),
        users('/users', FORGOTTEN),
      ]);
      await expectRollupsToEqualRecount(db);
    }
  });
});

describe('in AWS: Aurora, the buffer and the snapshot change together, under the fold lease', () => {
  let dynamo: DynamoStandIn;
  beforeAll(async () => {
    dynamo = await startDynalite();
  });
  afterAll(async () => {
    await dynamo?.close();
  });

  /** The service wired as the stack wires it: ingest into the buffer, figures from snapshot + buffer, users under the lease. */
  async function aws(env: Record<string, string> = {}) {
    const clock = testClock(NOW);
    const service = await bufferedService(db, dynamo, { now: clock.now, env: { INTERNAL_EMAIL_DOMAINS: 'team.example', MILESTONES: SN1MA_MILESTONES, ...env } });
    const { config } = service.deps;
    const users = createUsersHandler({ ...service.deps, changes: changeUnderLease(service.foldDeps) });
    const read = async (path: string, query: Record<string, string> | null = null) => JSON.parse((await service.metrics(get(path, query))).body);
    return {
      clock,
      service,
      async send(interactions: object[]) {
        const result = await service.ingest(post('/metrics/interactions', { interactions }));
        return JSON.parse(result.body) as { results: Array<{ status: string; counted: boolean; reason: string | null }> };
      },
      async users(path: string, userId: string) {
        const result = await users(remove(path, userId));
        return { status: result.statusCode, body: JSON.parse(result.body) };
      },
      /** Whether snapshot + buffer answer by themselves now, with no fold: what the number and the publisher read. */
      async answerWithoutFold() {
        const [record, pending] = await Promise.all([service.snapshots.read(), service.buffer.pending()]);
        return currentFigures(record, pending, config, configFingerprint(config), clock.now()).kind;
      },
      /** The headline and summary from snapshot + buffer; then milestones and history, which fold first and read Aurora. */
      async reads() {
        const headline = await read('/metrics/days-since-last-interaction');
        const summary = await read('/metrics/summary');
        return { headline, summary, milestones: await read('/metrics/milestones'), history: await read('/metrics/history', { days: '90' }) };
      },
      /** The summary a recount gives: Aurora's own reads, once everything is folded. */
      async recountedSummary() {
        await service.fold();
        await expectRollupsToEqualRecount(db);
        const figures = await readDatabaseFigures(db, config, service.foldDeps.baseline, clock.now());
        return JSON.parse(JSON.stringify(summaryResponse(figures, clock.now(), config)));
      },
      /** Every item of the buffer table whose text mentions `text`, pending or remembered. */
      async bufferMentioning(text: string) {
        const { Items = [] } = await dynamo.client.send(new ScanCommand({ TableName: service.tables.buffer, ConsistentRead: true }));
        return Items.map((item) => JSON.stringify(item)).filter((item) => item.includes(text));
      },
    };
  }

  it('forgets a user in Aurora, in the buffer (pending and remembered) and in the snapshot: every read is what it was before they came', async () => {
    const { send, users, reads, service, answerWithoutFold, recountedSummary, bufferMentioning } = await aws({ INTERACTION_TYPES: 'signup,login,payment,report_viewed,coach_call' });
    await send(traffic(OTHERS, 'o'));
    const without = await reads();
    // Some of theirs already folded into Aurora (the buffer remembers their verdicts), some still waiting.
    await send([
      ...traffic([FORGOTTEN], 'f'),
      { event_id: 'f-team', user_id: FORGOTTEN, interaction_type: 'login', occurred_at: '2026-02-27T10:00:00Z', context: { email: 'x@forgotten.example' } },
    ]);
    await service.fold();
    await send(traffic([FORGOTTEN], 'g').slice(0, 4));
    expect(await bufferMentioning(FORGOTTEN)).toHaveLength(17);

    expect(await users('/users', FORGOTTEN)).toEqual({ status: 200, body: { user_id: FORGOTTEN, status: 'forgotten', interactions: 17 } });
    expect(await rowsMentioning(FORGOTTEN)).toEqual([]);
    expect(await rowsMentioning('forgotten.example')).toEqual([]);
    expect(await bufferMentioning(FORGOTTEN)).toEqual([]);
    const { snapshot, stale } = (await service.snapshots.read())!;
    expect(stale).toBeUndefined();
    expect(snapshot!.realUsers.has(FORGOTTEN)).toBe(false);
    expect(await answerWithoutFold()).toBe('exact');
    const after = await reads();
    expect(after).toEqual(without);
    expect(after.summary).toEqual(await recountedSummary());
  });

  it('takes back context.internal in Aurora, in what waits and in the verdicts remembered for duplicates: the user counts again, exactly', async () => {
    const { send, users, reads, service, answerWithoutFold, recountedSummary } = await aws();
    await send(traffic(['42'], 'o'));
    // One demo flagged internal, folded into Aurora; another still waiting; and the user's ordinary traffic.
    await send([{ event_id: 'demo', user_id: 'user_8f3a', interaction_type: 'login', occurred_at: '2026-02-01T09:00:00Z', context: { internal: true } }]);
    await send(traffic(['user_8f3a'], 'm'));
    await service.fold();
    await send([{ event_id: 'demo-2', user_id: 'user_8f3a', interaction_type: 'signup', occurred_at: '2026-02-28T09:00:00Z', context: { internal: true } }]);
    expect((await reads()).headline.total_users).toBe(1);

    expect(await users('/internal-users', 'user_8f3a')).toEqual({
      status: 200,
      body: { user_id: 'user_8f3a', status: 'unmarked', interactions: 2, internal: false },
    });
    // A retry of the demo is a duplicate, answered as the user now counts.
    expect((await send([{ event_id: 'demo', user_id: 'user_8f3a', interaction_type: 'login', occurred_at: '2026-02-01T09:00:00Z', context: { internal: true } }])).results).toEqual([
      { event_id: 'demo', status: 'duplicate', counted: true, reason: null },
    ]);
    expect(await answerWithoutFold()).toBe('exact');
    const after = await reads();
    expect(after.headline.total_users).toBe(2);
    expect(after.summary).toEqual(await recountedSummary());

    // The same as if the demos had never carried the flag (forgotten, the same event ids accepted anew).
    await users('/users', 'user_8f3a');
    await send([
      { event_id: 'demo', user_id: 'user_8f3a', interaction_type: 'login', occurred_at: '2026-02-01T09:00:00Z' },
      { event_id: 'demo-2', user_id: 'user_8f3a', interaction_type: 'signup', occurred_at: '2026-02-28T09:00:00Z' },
    ]);
    await send(traffic(['user_8f3a'], 'm'));
    expect(await reads()).toEqual(after);
  });

  it('a change that dies after changing Aurora leaves no snapshot trusted: the next read folds, and equals a recount', async () => {
    const { send, users, reads, service, clock, answerWithoutFold, recountedSummary, bufferMentioning } = await aws();
    await send(traffic(['42', FORGOTTEN], 'o'));
    await service.fold();
    await send(traffic([FORGOTTEN], 'g').slice(0, 3));
    const died = changeUser(service.foldDeps, {
      inDatabase: (database) => forgetUser(database, FORGOTTEN),
      inBuffer: () => Promise.reject(new Error('the Lambda ran out of time')),
    });
    await expect(died).rejects.toThrow('the Lambda ran out of time');
    expect((await service.snapshots.read())!.stale).toBe(true);
    expect(await answerWithoutFold()).toBe('needs_fold');
    clock.set('2026-03-01T12:05:00Z');
    const after = await reads();
    expect((await service.snapshots.read())!.stale).toBeUndefined();
    expect(after.summary).toEqual(await recountedSummary());
    expect(after.headline.total_users).toBe(1);
    // What the buffer remembers of them for duplicates is left: a retried DELETE finishes the job.
    expect(await bufferMentioning(FORGOTTEN)).toHaveLength(15);
    expect((await users('/users', FORGOTTEN)).body).toEqual({ user_id: FORGOTTEN, status: 'forgotten', interactions: 0 });
    expect(await bufferMentioning(FORGOTTEN)).toEqual([]);
  });
});
