import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { link, mkdir, readdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';

/** Another live server holds the folder: opening it too would corrupt the database (issue 12). */
export class DataDirInUseError extends Error {
  override name = 'DataDirInUseError';
  constructor(
    readonly dataDir: string,
    readonly pid: number,
  ) {
    super(`DATA_DIR ${dataDir} is in use by another days-since server (pid ${pid}). Stop that one first, or set DATA_DIR to another folder.`);
  }
}

export interface DataDirLock {
  release(): Promise<void>;
}

/** Who holds a lock: enough to tell a live holder from a dead one whose pid was given to another process. */
interface Holder {
  pid: number;
  token: string;
  host: string;
  /** Linux only: the boot this pid belongs to, and when the process started (clock ticks since boot). */
  bootId: string | null;
  startTicks: string | null;
  released?: boolean;
}

const LOCK_FOLDER = '.days-since-lock';
const HELD = /^held\.(\d+)$/;

function readProc(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

/** Field 22 of /proc/<pid>/stat; the command name (field 2) may hold spaces and parentheses, so count from its end. */
function startTicksOf(pid: number): string | null {
  const stat = readProc(`/proc/${pid}/stat`);
  return stat === null ? null : (stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null);
}

const bootId = () => readProc('/proc/sys/kernel/random/boot_id')?.trim() ?? null;

function isAlive(holder: Holder): boolean {
  // Another machine's pid cannot be checked from here: assume it is alive.
  if (holder.host !== hostname()) return true;
  try {
    process.kill(holder.pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
  }
  // The pid is taken; on Linux, tell the holder from a later process that was given the same pid.
  if (holder.bootId !== null && bootId() !== null && holder.bootId !== bootId()) return false;
  const ticks = holder.startTicks === null ? null : startTicksOf(holder.pid);
  return ticks === null || ticks === holder.startTicks;
}

function parseHolder(text: string): Holder | null {
  try {
    const holder = JSON.parse(text) as Holder;
    return Number.isInteger(holder.pid) ? holder : null;
  } catch {
    return null;
  }
}

/**
 * Takes the folder for this process, or throws DataDirInUseError naming the live holder's pid.
 *
 * The lock is the highest-numbered `held.N` file in `<dataDir>/.days-since-lock/`. It is taken by creating
 * `held.N+1` with link(2), which fails if the name exists, so of several starts at once exactly one wins;
 * a dead holder (kill -9, or a pid now used by another process) is simply succeeded by the next number.
 */
export async function lockDataDir(dataDir: string): Promise<DataDirLock> {
  const folder = join(resolve(dataDir), LOCK_FOLDER);
  await mkdir(folder, { recursive: true });
  const me: Holder = { pid: process.pid, token: randomBytes(12).toString('hex'), host: hostname(), bootId: bootId(), startTicks: startTicksOf(process.pid) };
  for (let attempt = 0; attempt < 50; attempt++) {
    const taken = (await readdir(folder)).map((name) => Number(HELD.exec(name)?.[1] ?? 0));
    const newest = Math.max(0, ...taken);
    if (newest > 0) {
      let text: string;
      try {
        text = await readFile(join(folder, `held.${newest}`), 'utf8');
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw error;
      }
      const holder = parseHolder(text);
      if (holder && !holder.released && isAlive(holder)) throw new DataDirInUseError(dataDir, holder.pid);
    }
    const mine = join(folder, `held.${newest + 1}`);
    // Written whole under a private name first, so a reader never sees a half-written holder.
    const draft = join(folder, `draft.${me.token}`);
    await writeFile(draft, JSON.stringify(me));
    try {
      await link(draft, mine);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') continue;
      throw error;
    } finally {
      await unlink(draft);
    }
    // A number is only ever free again after a higher one exists: if one does, we were too slow.
    if ((await readdir(folder)).some((name) => Number(HELD.exec(name)?.[1] ?? 0) > newest + 1)) {
      await unlink(mine);
      continue;
    }
    // Predecessors are history now; a reader that still sees one also sees ours, the highest.
    await Promise.all(taken.filter((n) => n > 0 && n <= newest).map((n) => unlink(join(folder, `held.${n}`)).catch(() => {})));
    return {
      async release() {
        // Marked released rather than deleted: deleting would let a slow contender reuse the number.
        const done = join(folder, `draft.${me.token}`);
        await writeFile(done, JSON.stringify({ ...me, released: true }));
        await rename(done, mine);
      },
    };
  }
  throw new Error(`could not take the lock on DATA_DIR ${dataDir}: too many servers starting at once`);
}
