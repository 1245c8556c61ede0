import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { URL_LINE_PREFIX } from '../../src/local-function.js';

export interface LocalFunctionProcess {
  url: string;
  child: ChildProcess;
  /** Resolves with how the process ended. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const register = fileURLToPath(new URL('./register-typescript.mjs', import.meta.url));
const entry = fileURLToPath(new URL('../../src/local-function.ts', import.meta.url));

/**
 * Starts the local GPU function in a child process, from the TypeScript sources, and waits for
 * the line with its URL: a function a test can really kill mid-job.
 */
export async function spawnLocalFunction(env: Record<string, string>): Promise<LocalFunctionProcess> {
  const child = spawn(process.execPath, ['--import', register, entry], {
    env: { ...process.env, LOG_LEVEL: 'silent', LOCAL_FUNCTION_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line.startsWith(URL_LINE_PREFIX)) resolve(line.slice(URL_LINE_PREFIX.length));
    });
    void exited.then(({ code, signal }) => reject(new Error(`the local function exited (${code ?? signal}) before listening:\n${stderr}`)));
  });
  return { url, child, exited };
}
