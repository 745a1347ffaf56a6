import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { IDEMPOTENCY_KEY_PATTERN, MAX_IDEMPOTENCY_KEY_LENGTH, parseIdempotencyKey } from '../../functions/core/event-identity.js';
import { INTERACTION_TYPE, MAX_BATCH_SIZE, MAX_USER_ID_LENGTH } from '../../functions/core/interaction.js';
import { openApiDocument, requestModelSchema } from '../../functions/core/openapi.js';
import { ROUTES } from '../../functions/handlers/routes.js';
import { startLocalService } from '../../functions/local/service.js';
import { PROJECT_ROOT } from '../../lib/bundling.js';
import { localServiceEnv } from '../support/engines.js';

type Json = Record<string, any>;

const document = openApiDocument(ROUTES) as Json;
const bodyOf = (path: string): Json => document.paths[path].post.requestBody.content['application/json'].schema;
const answerOf = (method: string, path: string, status = '200'): Json =>
  document.paths[path][method.toLowerCase()].responses[status].content['application/json'].schema;

/** Where `value` breaks the documented schema (the OpenAPI 3.0 subset the document uses): wrong type, a value outside its enum, a field missing or undocumented. */
function mismatches(schema: Json, value: unknown, at = '$'): string[] {
  if (value === null) return schema.nullable ? [] : [`${at} is null`];
  if (schema.enum && !schema.enum.includes(value)) return [`${at} = ${JSON.stringify(value)} is not one of ${JSON.stringify(schema.enum)}`];
  const type = Array.isArray(value) ? 'array' : typeof value;
  if (schema.type && schema.type !== type) return [`${at} is ${type}, documented as ${schema.type}`];
  if (Array.isArray(value)) return value.flatMap((item, index) => mismatches(schema.items, item, `${at}[${index}]`));
  if (type !== 'object') return [];
  const fields = value as Json;
  const documented = schema.properties as Json | undefined;
  const additional = schema.additionalProperties as Json | undefined;
  return [
    ...(schema.required ?? []).filter((name: string) => !(name in fields)).map((name: string) => `${at}.${name} is missing`),
    ...Object.entries(fields).flatMap(([name, field]) => {
      const fieldSchema = documented?.[name] ?? (typeof additional === 'object' ? additional : undefined);
      return fieldSchema ? mismatches(fieldSchema, field, `${at}.${name}`) : [`${at}.${name} is not documented`];
    }),
  ];
}

describe('the OpenAPI document', () => {
  it('describes every route, and only the routes, each behind the x-api-key header', () => {
    const operations = Object.entries(document.paths as Json).flatMap(([path, methods]) =>
      Object.keys(methods).map((method) => ({ method: method.toUpperCase(), path })),
    );
    expect(operations).toEqual(ROUTES.map(({ method, path }) => ({ method, path })));
    expect(document.components.securitySchemes.apiKey).toEqual({ type: 'apiKey', in: 'header', name: 'x-api-key' });
  });

  it('documents each success answer with its fields, which of them are required, and their allowed values', () => {
    const verdictFields = ['event_id', 'status', 'counted', 'reason'];
    for (const status of ['200', '202']) {
      const verdict = answerOf('POST', '/metrics/interaction', status);
      expect(verdict.required).toEqual(verdictFields);
      expect(verdict.properties.status.enum).toEqual(['recorded', 'duplicate']);
      expect(verdict.properties.reason).toMatchObject({ nullable: true, enum: ['internal_user', 'test_traffic', 'automated_client', 'not_engagement'] });
      const batch = answerOf('POST', '/metrics/interactions', status);
      expect(batch.required).toEqual(['status', 'recorded', 'duplicates', 'counted', 'results']);
      expect(batch.properties.results.items.required).toEqual(verdictFields);
    }
    const headline = answerOf('GET', '/metrics/days-since-last-interaction');
    expect(headline.required).toEqual(['metric', 'value', 'status', 'target', 'last_interaction', 'total_users']);
    expect(headline.properties.metric.enum).toEqual(['days_since_last_real_user_interaction']);
    expect(headline.properties.value).toEqual({ type: 'number', nullable: true });
    expect(headline.properties.status.enum).toEqual(['active', 'warning', 'critical', 'no_users_yet']);
    const summary = answerOf('GET', '/metrics/summary');
    expect(summary.required).toEqual(['generated_at', 'days_since_last_real_interaction', 'by_type', 'active_users', 'total_users', 'excluded']);
    expect(Object.keys(summary.properties.active_users.properties)).toEqual(['dau', 'wau', 'mau']);
    expect(summary.properties.excluded.properties.last_7_days.required).toEqual(['internal_user', 'test_traffic', 'automated_client', 'not_engagement']);
    const milestone = answerOf('GET', '/metrics/milestones').properties.milestones.items;
    expect(milestone.required).toEqual(['name', 'target_date', 'measure', 'target', 'current', 'reached_on', 'reached_at', 'on_time', 'status']);
    expect(milestone.properties.status.enum).toEqual(['achieved', 'on_track', 'missed']);
    const history = answerOf('GET', '/metrics/history');
    expect(history.required).toEqual(['generated_at', 'days', 'from', 'to', 'history']);
    expect(history.properties.history.items.required).toEqual(['day', 'active_users', 'new_users', 'days_since_at_end_of_day']);
    expect(answerOf('GET', '/healthz')).toEqual({ type: 'object', properties: { status: { type: 'string', enum: ['ok'] } }, required: ['status'] });
  });

  it('describes what the handlers really answer: every field they send, of its documented type, none missing', async () => {
    const service = await startLocalService(localServiceEnv({ DATA_DIR: 'memory' }), { print: () => {} });
    try {
      const call = async (method: string, path: string, body?: unknown) => {
        const response = await fetch(`${service.url}${path}`, {
          method,
          headers: body === undefined ? {} : { 'content-type': 'application/json' },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
        const answer = await response.json();
        const route = path.split('?')[0]!;
        return { where: `${method} ${path} ${response.status}`, problems: mismatches(answerOf(method, route, String(response.status)), answer) };
      };
      const one = { event_id: 'e-1', user_id: '11111111-1111-4111-8111-111111111111', interaction_type: 'login', context: { email: 'a@team.example' } };
      const answers = [
        await call('POST', '/metrics/interaction', one),
        await call('POST', '/metrics/interaction', one),
        await call('POST', '/metrics/interactions', { interactions: [{ ...one, event_id: 'e-2', interaction_type: 'agent_run' }] }),
        ...(await Promise.all(ROUTES.filter((route) => route.method === 'GET').map((route) => call('GET', route.path)))),
        await call('DELETE', `/internal-users?user_id=${one.user_id}`),
        await call('DELETE', '/internal-users?user_id=nobody'),
        await call('DELETE', '/users'),
        await call('DELETE', `/users?user_id=${one.user_id}`),
      ];
      expect(answers.map((answer) => answer.where)).toEqual([
        'POST /metrics/interaction 202',
        'POST /metrics/interaction 200',
        'POST /metrics/interactions 202',
        ...ROUTES.filter((route) => route.method === 'GET').map((route) => `GET ${route.path} 200`),
        `DELETE /internal-users?user_id=${one.user_id} 200`,
        'DELETE /internal-users?user_id=nobody 404',
        'DELETE /users 400',
        `DELETE /users?user_id=${one.user_id} 200`,
      ]);
      expect(answers.filter((answer) => answer.problems.length > 0)).toEqual([]);
    } finally {
      await service.close();
    }
  });

  it('documents the optional Idempotency-Key header on both recording routes, with the limits the handler checks', () => {
    for (const path of ['/metrics/interaction', '/metrics/interactions']) {
      const { parameters, description } = document.paths[path].post;
      expect(parameters).toEqual([expect.objectContaining({ name: 'Idempotency-Key', in: 'header', required: false })]);
      expect(parameters[0].schema).toEqual({ type: 'string', minLength: 1, maxLength: MAX_IDEMPOTENCY_KEY_LENGTH, pattern: IDEMPOTENCY_KEY_PATTERN.source });
      expect(description).toMatch(/Idempotency-Key/);
      expect(description).toMatch(/occurred_at/);
    }
    // The documented pattern is the one the handler applies.
    const documented = new RegExp(document.paths['/metrics/interaction'].post.parameters[0].schema.pattern);
    for (const key of ['order 42/retry', ' padded', 'naïve']) expect(documented.test(key)).toBe(parseIdempotencyKey(key).ok);
  });

  it('refuses to describe a route nobody has written up', () => {
    expect(() => openApiDocument([...ROUTES, { method: 'DELETE', path: '/metrics/everything' }])).toThrow(
      'DELETE /metrics/everything has no OpenAPI description in functions/core/openapi.ts',
    );
  });

  it('shows the request bodies the handlers parse: the same types, fields and limits', () => {
    const one = bodyOf('/metrics/interaction');
    expect(one.required).toEqual(['user_id', 'interaction_type']);
    expect(one.additionalProperties).toBe(false);
    expect(one.properties.interaction_type.pattern).toBe(INTERACTION_TYPE.source);
    expect(one.properties.user_id).toEqual({ type: 'string', minLength: 1, maxLength: MAX_USER_ID_LENGTH });
    const batch = bodyOf('/metrics/interactions');
    expect(batch.properties.interactions).toMatchObject({ minItems: 1, maxItems: MAX_BATCH_SIZE, items: one });
  });
});

describe('the API Gateway request models', () => {
  it.each(ROUTES.filter((route) => route.method === 'POST').map((route) => route.path))(
    'for %s are draft-04 JSON Schema, self-contained, with zod\'s patterns and without formats',
    (path) => {
      const model = requestModelSchema(path);
      expect(model.$schema).toBe('http://json-schema.org/draft-04/schema#');
      const text = JSON.stringify(model);
      expect(text).not.toMatch(/"(format|\$ref|\$defs|definitions)"/);
      const single = path === '/metrics/interaction' ? model : (model as Json).properties.interactions.items;
      expect(single.properties.user_id.pattern).toBe(bodyOf('/metrics/interaction').properties.user_id.pattern);
      expect(single.properties.context.additionalProperties).toBe(false);
    },
  );

  it('exist only for routes that take a body', () => {
    expect(() => requestModelSchema('/metrics/summary')).toThrow('/metrics/summary takes no request body');
  });
});

describe('where the document is served', () => {
  it('npm run openapi prints it', async () => {
    const { stdout } = await promisify(execFile)('npx', ['tsx', 'lib/openapi.ts'], { cwd: PROJECT_ROOT });
    expect(JSON.parse(stdout)).toEqual(document);
  });

  it('the local service answers GET /openapi.json with it, only with the API key when one is set', async () => {
    const service = await startLocalService(
      localServiceEnv({ DATA_DIR: 'memory', API_KEY: 'local-secret' }),
      { print: () => {} },
    );
    try {
      // The route list is the API's map: no more open than the API itself.
      const refused = await fetch(`${service.url}/openapi.json`);
      expect([refused.status, (await refused.json()).error]).toEqual([403, 'forbidden']);
      const response = await fetch(`${service.url}/openapi.json`, { headers: { 'x-api-key': 'local-secret' } });
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toMatch(/^application\/json/);
      expect(await response.json()).toEqual(document);
    } finally {
      await service.close();
    }
  });
});
