import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { maskPassword, refuseOldServer } from '../../functions/local/database.js';
import { ROUTES } from '../../functions/handlers/routes.js';
import { startLocalService, type LocalService } from '../../functions/local/service.js';
import { engineUnderTest, freshLocalDatabases } from '../support/harness.js';
import { localServiceEnv, TEST_PGLITE_ENV } from '../support/engines.js';
import { SN1MA_MILESTONES_FILE } from '../support/sn1ma.js';

const USER = '9b2f1c3e-8a4d-4e5f-9a6b-7c8d9e0f1a2b';
const running: LocalService[] = [];
// PGlite in a folder of its own, or a fresh PostgreSQL 16 database at DATABASE_URL: the same tests hold on both.
const engine = engineUnderTest();
const freshDatabase = freshLocalDatabases(engine);

async function start(env: Record<string, string> = {}) {
  const service = await startLocalService({ PORT: '0', ...(await freshDatabase()), ...env });
  running.push(service);
  return service;
}

afterEach(async () => {
  await Promise.all(running.splice(0).map((service) => service.close()));
});

const postJson = (url: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });

describe(`the local server, over real HTTP, on ${engine.name}`, () => {
  it('serves the seed\'s check-in, records an interaction, and serves the new number', async () => {
    const { url } = await start();
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const before = await fetch(`${url}/metrics/days-since-last-interaction`);
    expect(before.status).toBe(200);
    expect(before.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(await before.json()).toEqual({
      metric: 'days_since_last_real_user_interaction',
      value: null,
      status: 'no_users_yet',
      target: 0,
      last_interaction: null,
      total_users: 0,
    });
    const recorded = await postJson(`${url}/metrics/interaction`, { user_id: USER, interaction_type: 'signup' });
    expect(recorded.status).toBe(202);
    const after = await (await fetch(`${url}/metrics/days-since-last-interaction`)).json();
    expect(after).toMatchObject({ status: 'active', total_users: 1 });
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
  });

  it('serves the status page and the three figures it reads', async () => {
    const { url } = await start({ MILESTONES_FILE: SN1MA_MILESTONES_FILE });
    await postJson(`${url}/metrics/interaction`, { user_id: USER, interaction_type: 'payment' });
    const page = await fetch(`${url}/`);
    expect([page.status, page.headers.get('content-type')]).toEqual([200, 'text/html; charset=utf-8']);
    const [summary, milestones, history] = await Promise.all(
      ['/metrics/summary', '/metrics/milestones', '/metrics/history?days=90'].map(async (path) => {
        const response = await fetch(`${url}${path}`);
        expect(response.status, path).toBe(200);
        return response.json();
      }),
    );
    expect(summary).toMatchObject({ total_users: 1, days_since_last_real_interaction: { status: 'active' } });
    expect(milestones.milestones.length).toBeGreaterThan(0);
    expect(history.days).toBe(90);
    expect(history.history.at(-1)).toMatchObject({ active_users: 1, new_users: 1, days_since_at_end_of_day: expect.any(Number) });
  });

  it('answers 404 for an unknown route and 405 with Allow for a wrong method', async () => {
    const { url } = await start();
    const missing = await fetch(`${url}/metrics/nope`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ error: 'not_found', message: 'no route for /metrics/nope' });
    const wrong = await fetch(`${url}/metrics/interaction`, { method: 'GET' });
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('POST');
  });

  it('answers HEAD wherever GET is, and 405 with Allow on every known path: routes, page, assets, /openapi.json', async () => {
    const { url } = await start();
    const getPaths = [...ROUTES.filter((route) => route.method === 'GET').map((route) => route.path), '/', '/assets/status.js', '/assets/status.css', '/openapi.json'];
    for (const path of getPaths) {
      const [get, head] = await Promise.all([fetch(`${url}${path}`), fetch(`${url}${path}`, { method: 'HEAD' })]);
      expect({ path, status: head.status, type: head.headers.get('content-type'), body: await head.text() }).toEqual({
        path,
        status: 200,
        type: get.headers.get('content-type'),
        body: '',
      });
      await get.arrayBuffer();
      for (const method of ['POST', 'PUT', 'DELETE', 'OPTIONS']) {
        const refused = await fetch(`${url}${path}`, { method });
        expect({ path, method, status: refused.status, allow: refused.headers.get('allow'), error: (await refused.json()).error }).toEqual({
          path,
          method,
          status: 405,
          allow: 'GET, HEAD',
          error: 'method_not_allowed',
        });
      }
    }
    // A POST or DELETE path takes that method alone: HEAD too is refused there, before the key or the database is asked.
    for (const route of ROUTES.filter((candidate) => candidate.method !== 'GET')) {
      for (const method of ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS'].filter((other) => other !== route.method)) {
        const refused = await fetch(`${url}${route.path}?user_id=someone`, { method });
        expect([route.path, method, refused.status, refused.headers.get('allow')]).toEqual([route.path, method, 405, route.method]);
        await refused.arrayBuffer();
      }
    }
  });

  it('refuses a body over 1 MB with 413 without keeping it', async () => {
    const { url } = await start();
    const response = await fetch(`${url}/metrics/interactions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: 'x'.repeat(1024 * 1024 + 1),
    });
    expect(response.status).toBe(413);
    expect((await response.json()).error).toBe('payload_too_large');
  });

  it('requires x-api-key on every route but /healthz when API_KEY is set', async () => {
    const { url } = await start({ API_KEY: 'local-secret' });
    expect((await fetch(`${url}/metrics/days-since-last-interaction`)).status).toBe(403);
    expect((await fetch(`${url}/metrics/days-since-last-interaction`, { headers: { 'x-api-key': 'wrong' } })).status).toBe(403);
    expect((await postJson(`${url}/metrics/interaction`, { user_id: USER, interaction_type: 'login' })).status).toBe(403);
    expect((await fetch(`${url}/metrics/days-since-last-interaction`, { headers: { 'x-api-key': 'local-secret' } })).status).toBe(200);
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
  });

  it('forgets a user over HTTP, with the API key, whatever characters the id holds (percent-encoded in ?user_id=)', async () => {
    const { url } = await start({ API_KEY: 'local-secret' });
    const key = { 'x-api-key': 'local-secret' };
    const odd = 'team/ana+1 ü?&';
    const sent = await fetch(`${url}/metrics/interaction`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...key },
      body: JSON.stringify({ user_id: odd, interaction_type: 'login' }),
    });
    expect(sent.status).toBe(202);
    const forget = `${url}/users?user_id=${encodeURIComponent(odd)}`;
    expect((await fetch(forget, { method: 'DELETE' })).status).toBe(403);
    const forgotten = await fetch(forget, { method: 'DELETE', headers: key });
    expect([forgotten.status, await forgotten.json()]).toEqual([200, { user_id: odd, status: 'forgotten', interactions: 1 }]);
    expect(await (await fetch(`${url}/metrics/days-since-last-interaction`, { headers: key })).json()).toMatchObject({ total_users: 0 });
    expect((await fetch(`${url}/users?user_id=${encodeURIComponent(odd)}`, { headers: key })).status).toBe(405);
  });

  it('keeps what it recorded across a restart (DATA_DIR a folder, or the same DATABASE_URL)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'days-since-'));
    const where = engine.name === 'pglite' ? { DATA_DIR: dir, ...TEST_PGLITE_ENV } : await freshDatabase();
    try {
      const first = await startLocalService({ PORT: '0', ...where });
      await postJson(`${first.url}/metrics/interaction`, { user_id: USER, interaction_type: 'login' });
      await first.close();
      const second = await startLocalService({ PORT: '0', ...where });
      running.push(second);
      expect(await (await fetch(`${second.url}/metrics/days-since-last-interaction`)).json()).toMatchObject({ total_users: 1 });
    } finally {
      await Promise.all(running.splice(0).map((service) => service.close()));
      await rm(dir, { recursive: true, force: true });
    }
    // Two PGlite starts, one of them running initdb in a new folder: past 30 s on a loaded machine.
  }, 60_000);

  it('refuses to start on a bad configuration, naming the variable', async () => {
    await expect(startLocalService({ PORT: '0', ...(await freshDatabase()), CRITICAL_DAYS: 'a week' })).rejects.toThrow(
      'CRITICAL_DAYS must be a number >= 0, got "a week"',
    );
  });
});

describe.runIf(engine.name === 'postgres')('npm start with DATABASE_URL', () => {
  it('runs as its own process on that server, with the password masked in what it prints, and stops on SIGTERM', async () => {
    const { DATABASE_URL } = await freshDatabase();
    const password = new URL(DATABASE_URL!).password;
    expect(password).not.toBe('');
    const child = spawn(process.execPath, ['--import', 'tsx', 'functions/local/main.ts'], {
      env: { ...process.env, ...localServiceEnv({ DATABASE_URL, DATA_DIR: './ignored-data' }) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let printed = '';
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      child.stdout.on('data', (chunk: Buffer) => void (printed += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => void (printed += chunk.toString()));
      const url = await new Promise<string>((resolve, reject) => {
        child.stdout.on('data', () => {
          const listening = /listening on (http:\/\/127\.0\.0\.1:\d+)[\s\S]*Try: curl/.exec(printed);
          if (listening) resolve(listening[1]!);
        });
        void exited.then((code) => reject(new Error(`npm start exited with ${code}:\n${printed}`)));
      });
      expect(await (await fetch(`${url}/metrics/days-since-last-interaction`)).json()).toMatchObject({ status: 'no_users_yet', total_users: 0 });
      expect(printed).toMatch(/data: +PostgreSQL 16\.\d+ at postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:\d+\/t_\w+ \(DATA_DIR is ignored\)/);
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(printed).not.toContain(password);
      expect(existsSync('ignored-data')).toBe(false);
    } finally {
      child.kill('SIGKILL');
    }
  }, 90_000);

  it('refuses a server it cannot log in to, naming DATABASE_URL without its password', async () => {
    const url = new URL((await freshDatabase()).DATABASE_URL!);
    url.password = 'not-the-password-5f3a';
    const start = startLocalService(localServiceEnv({ DATABASE_URL: url.toString() }));
    await expect(start).rejects.toThrow(/^DATABASE_URL postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:\d+\/t_\w+: password authentication failed/);
    await expect(start).rejects.not.toThrow(/not-the-password-5f3a/);
  });

  it('runs as a role that may only read and write, once the owner has applied the migrations', async () => {
    const { DATABASE_URL } = await freshDatabase();
    await (await startLocalService(localServiceEnv({ DATABASE_URL: DATABASE_URL! }))).close();
    const role = `app_${randomBytes(4).toString('hex')}`;
    const owner = new pg.Client({ connectionString: DATABASE_URL });
    await owner.connect();
    try {
      await owner.query(`CREATE ROLE ${role} LOGIN PASSWORD 'app-secret'`);
      await owner.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO ${role}`);
      await owner.query(`GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO ${role}`);
      const url = new URL(DATABASE_URL!);
      [url.username, url.password] = [role, 'app-secret'];
      const service = await startLocalService(localServiceEnv({ DATABASE_URL: url.toString() }));
      running.push(service);
      expect((await postJson(`${service.url}/metrics/interaction`, { user_id: USER, interaction_type: 'login' })).status).toBe(202);
      expect(await (await fetch(`${service.url}/metrics/days-since-last-interaction`)).json()).toMatchObject({ total_users: 1 });
      await Promise.all(running.splice(0).map((started) => started.close()));
    } finally {
      await owner.query(`DROP OWNED BY ${role}`);
      await owner.query(`DROP ROLE ${role}`);
      await owner.end();
    }
  });

  it('refuses a server older than PostgreSQL 16, saying which version it found', () => {
    expect(() => refuseOldServer(150_004, '15.4')).toThrow('the server runs PostgreSQL 15.4; days-since needs PostgreSQL 16 or newer');
    expect(() => refuseOldServer(160_014, '16.14')).not.toThrow();
    expect(() => refuseOldServer(180_001, '18.1')).not.toThrow();
  });

  it('masks the password however it is spelled, and never prints a URL it cannot read', () => {
    expect(maskPassword('postgres://me:p%40ss%2Fword@db.example:5432/app?sslmode=require')).toBe('postgres://me:***@db.example:5432/app?sslmode=require');
    expect(maskPassword('postgres://me@db.example/app')).toBe('postgres://me@db.example/app');
    expect(maskPassword('postgres://me:secret@[not a host/app')).toBe('postgres://(a URL that does not parse)');
  });
});
