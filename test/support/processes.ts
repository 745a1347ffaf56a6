import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { localServiceEnv } from './engines.js';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface RunningServer {
  child: ChildProcess;
  /** The URL it listens on, once it says so (its database may still be opening); rejects if it exits first. */
  url: Promise<string>;
  /** The same URL, once the database is open and it serves; rejects if it exits first. */
  ready: Promise<string>;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  output(): string;
}

/** A real server process: `npm start` itself, or node on main.ts, with its own env (and node options, such as --import). */
export function startServerProcess(command: 'npm' | 'node', env: Record<string, string>, nodeOptions: string[] = []): RunningServer {
  const args = command === 'npm' ? ['start'] : [...nodeOptions, '--import', 'tsx', 'functions/local/main.ts'];
  const child = spawn(command === 'npm' ? 'npm' : process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, ...localServiceEnv(env) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const printed = (pattern: RegExp, what: string) =>
    new Promise<string>((resolve, reject) => {
      const read = () => {
        const match = pattern.exec(output);
        if (match) resolve(match[1]!);
      };
      child.stdout!.on('data', read);
      child.stderr!.on('data', read);
      void exit.then(() => reject(new Error(`exited before ${what}: ${output}`)));
    });
  child.stdout!.on('data', (data: Buffer) => void (output += data.toString()));
  child.stderr!.on('data', (data: Buffer) => void (output += data.toString()));
  const url = printed(/listening on (http:\/\/\S+)/, 'listening');
  const ready = printed(/ready at (http:\/\/\S+)/, 'its database opened');
  url.catch(() => {});
  ready.catch(() => {});
  return { child, url, ready, exit, output: () => output };
}

/** Whether a process with this pid exists. */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
