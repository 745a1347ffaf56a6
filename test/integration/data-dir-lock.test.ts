import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { DataDirInUseError, lockDataDir } from '../../functions/local/data-dir-lock.js';
import { startLocalService } from '../../functions/local/service.js';
import { countRows } from '../support/harness.js';
import { folderWithFreshCluster } from '../support/pglite-template.js';
import { startServerProcess, type RunningServer } from '../support/processes.js';
import { localServiceEnv } from '../support/engines.js';

const USER = '9b2f1c3e-8a4d-4e5f-9a6b-7c8d9e0f1a2b';
const folders: string[] = [];
const servers: RunningServer[] = [];

async function folder() {
  const dir = await mkdtemp(join(tmpdir(), 'i12-lock-'));
  folders.push(dir);
  return dir;
}

/** A folder a server has already initialised (no initdb on start), for the cases that are not about a new folder. */
async function initialisedFolder() {
  const dir = await folderWithFreshCluster('i12-lock-');
  folders.push(dir);
  return dir;
}

afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.child.kill('SIGKILL');
    await server.exit;
  }
  await Promise.all(folders.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

function serve(dataDir: string) {
  const server = startServerProcess('node', { DATA_DIR: dataDir });
  servers.push(server);
  return server;
}

/** Waits until every one of `starts` either serves or exits; returns those serving. */
async function serving(starts: RunningServer[]) {
  const outcomes = await Promise.all(starts.map((start) => start.ready.then(() => 'serving' as const, () => 'exited' as const)));
  return starts.filter((_, i) => outcomes[i] === 'serving');
}

describe('one server per data folder', () => {
  it('a second server on a folder in use exits non-zero, naming the folder and the pid holding it', async () => {
    const dir = await initialisedFolder();
    const first = await startLocalService(localServiceEnv({ DATA_DIR: dir }), { print: () => {} });
    try {
      const second = serve(dir);
      const { code } = await second.exit;
      expect(code).toBe(1);
      expect(second.output()).toContain(`DATA_DIR ${dir} is in use by another days-since server (pid ${process.pid})`);
      // The first one was not disturbed.
      expect((await fetch(`${first.url}/healthz`)).status).toBe(200);
    } finally {
      await first.close();
    }
  }, 120_000);

  it('after kill -9 of the holder, the next start works and every acknowledged event is still there', async () => {
    const dir = await initialisedFolder();
    const killed = serve(dir);
    const url = await killed.ready;
    let acknowledged = 0;
    for (let round = 0; round < 5; round++) {
      const interactions = Array.from({ length: 20 }, (_, i) => ({ event_id: `r${round}-${i}`, user_id: USER, interaction_type: 'login' }));
      const response = await fetch(`${url}/metrics/interactions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ interactions }) });
      expect(response.status).toBe(202);
      acknowledged += (await response.json()).recorded;
    }
    killed.child.kill('SIGKILL');
    await killed.exit;
    const next = await startLocalService(localServiceEnv({ DATA_DIR: dir }), { print: () => {} });
    try {
      expect(acknowledged).toBe(100);
      expect(await countRows(next.db, 'interactions')).toBe(acknowledged);
    } finally {
      await next.close();
    }
  }, 180_000);

  it('of several servers started at once, on a new folder and again after a kill -9, exactly one serves', async () => {
    const dir = await folder();
    for (const round of ['new folder', 'after kill -9']) {
      const starts = Array.from({ length: 3 }, () => serve(dir));
      const winners = await serving(starts);
      expect({ round, serving: winners.length }).toEqual({ round, serving: 1 });
      for (const loser of starts.filter((start) => !winners.includes(start))) {
        expect((await loser.exit).code).toBe(1);
        expect(loser.output()).toContain(`is in use by another days-since server (pid ${winners[0]!.child.pid})`);
      }
      winners[0]!.child.kill('SIGKILL');
      await winners[0]!.exit;
    }
  }, 240_000);
});

describe('lockDataDir', () => {
  it('lets exactly one of many simultaneous takers win, and the next one in after a release', async () => {
    const dir = await folder();
    const attempts = await Promise.allSettled(Array.from({ length: 25 }, () => lockDataDir(dir)));
    const won = attempts.filter((attempt) => attempt.status === 'fulfilled');
    expect(won).toHaveLength(1);
    expect(attempts.filter((attempt) => attempt.status === 'rejected').every((attempt) => attempt.reason instanceof DataDirInUseError)).toBe(true);
    await won[0]!.value.release();
    await (await lockDataDir(dir)).release();
  });

  it.skipIf(!existsSync('/proc/self/stat'))('takes over a lock whose pid now belongs to another process, but not one whose holder still runs', async () => {
    const dir = await folder();
    const other = spawn('sleep', ['30']);
    try {
      const stat = readFileSync(`/proc/${other.pid}/stat`, 'utf8');
      const startTicks = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
      const bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
      const holder = { pid: other.pid, token: 'x', host: hostname(), bootId };
      await mkdir(join(dir, '.days-since-lock'));
      // The same pid, started at another time: the holder died and its pid was reused.
      await writeFile(join(dir, '.days-since-lock', 'held.1'), JSON.stringify({ ...holder, startTicks: '1' }));
      await (await lockDataDir(dir)).release();
      // The very process that wrote the lock: still alive, so the folder stays taken.
      await writeFile(join(dir, '.days-since-lock', 'held.3'), JSON.stringify({ ...holder, startTicks }));
      await expect(lockDataDir(dir)).rejects.toThrow(`(pid ${other.pid})`);
    } finally {
      other.kill();
    }
  });
});
