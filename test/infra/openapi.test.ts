import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { INTERACTION_TYPES, MAX_BATCH_SIZE } from '../../functions/core/interaction.js';
import { openApiDocument, requestModelSchema } from '../../functions/core/openapi.js';
import { ROUTES } from '../../functions/handlers/routes.js';
import { startLocalService } from '../../functions/local/service.js';
import { PROJECT_ROOT } from '../../lib/bundling.js';

type Json = Record<string, any>;

const document = openApiDocument(ROUTES) as Json;
const bodyOf = (path: string): Json => document.paths[path].post.requestBody.content['application/json'].schema;

describe('the OpenAPI document', () => {
  it('describes every route, and only the routes, each behind the x-api-key header', () => {
    const operations = Object.entries(document.paths as Json).flatMap(([path, methods]) =>
      Object.keys(methods).map((method) => ({ method: method.toUpperCase(), path })),
    );
    expect(operations).toEqual(ROUTES.map(({ method, path }) => ({ method, path })));
    expect(document.components.securitySchemes.apiKey).toEqual({ type: 'apiKey', in: 'header', name: 'x-api-key' });
    for (const { method, path } of ROUTES) expect(document.paths[path][method.toLowerCase()].responses['200']).toBeDefined();
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
    expect(one.properties.interaction_type.enum).toEqual([...INTERACTION_TYPES]);
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

  it('the local service answers GET /openapi.json with it, without an API key', async () => {
    const service = await startLocalService(
      { PORT: '0', DATA_DIR: 'memory', PUBLISH_INTERVAL_SECONDS: '0', API_KEY: 'local-secret' },
      { print: () => {} },
    );
    try {
      const response = await fetch(`${service.url}/openapi.json`);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toMatch(/^application\/json/);
      expect(await response.json()).toEqual(document);
    } finally {
      await service.close();
    }
  });
});
