import { spawn, type ChildProcess } from 'node:child_process';
import { connect, createServer, type Socket } from 'node:net';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { URL_LINE_PREFIX } from '@easel/gpu-runtime/local-function';

/*
 * Parts of Easel as real processes, so a test can kill one with SIGKILL mid-job. They run the
 * TypeScript sources through gpu-runtime's loader (swc), so no build is needed.
 */

const REPO = path.resolve(import.meta.dirname, '../../..');
const TYPESCRIPT_LOADER = path.join(REPO, 'gpu-runtime/test/support/register-typescript.mjs');
const START_TIMEOUT_MS = 30_000;

export interface RunningProcess {
  url: string;
  child: ChildProcess;
  /** SIGKILL: no cleanup, no last words, as a crash or an out-of-memory kill. */
  kill(): Promise<void>;
}

/** A free TCP port, for a process that must come back at the same address. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** The local GPU function (`gpu-runtime/src/local-function.ts`) in a process of its own. */
export function startFunctionProcess(env: { MODELS_DIR: string; LOCAL_FUNCTION_PORT?: string; LOCAL_FUNCTION_CONCURRENCY?: string }): Promise<RunningProcess> {
  return startProcess('gpu-runtime/src/local-function.ts', { LOG_LEVEL: 'silent', ...env }, (line) =>
    line.startsWith(URL_LINE_PREFIX) ? line.slice(URL_LINE_PREFIX.length).trim() : undefined,
  );
}

/** The API (`api/src/main.ts`) in a process of its own; its JSON log says when it is ready. */
export function startApiProcess(env: Record<string, string>): Promise<RunningProcess> {
  return startProcess('api/src/main.ts', { NODE_ENV: 'test', LOG_LEVEL: 'info', ...env }, (line) => {
    if (!line.includes('Easel API ready')) return undefined;
    return (JSON.parse(line) as { url: string }).url.replace(/\/graphql$/, '');
  });
}

function startProcess(entry: string, env: Record<string, string>, readyUrl: (line: string) => string | undefined): Promise<RunningProcess> {
  const child = spawn(process.execPath, ['--import', TYPESCRIPT_LOADER, entry], {
    cwd: REPO,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const output: string[] = [];
  const remember = (line: string) => output.push(line) > 40 && output.shift();
  createInterface({ input: child.stderr! }).on('line', remember);
  const lines = createInterface({ input: child.stdout! });

  return new Promise<RunningProcess>((resolve, reject) => {
    const fail = (why: string) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`${entry} did not start: ${why}\n${output.join('\n')}`));
    };
    const timer = setTimeout(() => fail(`not ready within ${START_TIMEOUT_MS} ms`), START_TIMEOUT_MS);
    const exitedEarly = (code: number | null, signal: string | null) => fail(`it exited (code ${code}, signal ${signal})`);
    child.once('exit', exitedEarly);
    lines.on('line', (line) => {
      remember(line);
      const url = readyUrl(line);
      if (url === undefined) return;
      clearTimeout(timer);
      child.off('exit', exitedEarly);
      resolve({
        url,
        child,
        async kill() {
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
          await exited;
        },
      });
    });
  });
}

export interface TcpProxy {
  url: string;
  /** Where new connections go from now on. */
  retarget(port: number): void;
  close(): Promise<void>;
}

/**
 * A fixed address in front of a process that gets replaced: the API keeps one LAMBDA_ENDPOINT
 * while the test swaps the function behind it, without waiting for a new process to boot.
 */
export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  let target = targetPort;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(target, '127.0.0.1');
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
      // Either end going away takes the other with it, as a dead server's connections would.
      socket.once('error', () => undefined);
    }
    client.pipe(upstream).pipe(client);
    client.once('close', () => upstream.destroy());
    upstream.once('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    retarget: (next) => {
      target = next;
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
