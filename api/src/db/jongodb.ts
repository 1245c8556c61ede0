import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { Logger } from 'pino';

const require = createRequire(import.meta.url);

/** How long the binary gets to print its address; it normally starts in ~30 ms. */
const START_TIMEOUT_MS = 15_000;
const STOP_TIMEOUT_MS = 5_000;

/**
 * The shell stays beside jongodb as a watchdog: it blocks reading its stdin, which is a pipe from
 * us, and kills jongodb when that read ends. The kernel closes the pipe however we die (even on
 * SIGKILL, when no exit hook runs), so the in-memory server never outlives its owner.
 */
const WATCHDOG = '"$@" </dev/null & child=$!; read -r _; kill "$child" 2>/dev/null; wait "$child"';

export interface EmbeddedServer {
  uri: string;
  stop(): Promise<void>;
}

export function jongodbBinaryPath(): string {
  const packageJson = require.resolve('@jongodb/memory-server-bin-linux-x64-gnu/package.json');
  return path.join(path.dirname(packageJson), 'bin', 'jongodb');
}

/** jongodb under its watchdog, on a port the OS picks. Its stdin must be a pipe from the owner. */
export function jongodbCommand(): { command: string; args: string[] } {
  return { command: 'sh', args: ['-c', WATCHDOG, 'jongodb-watchdog', jongodbBinaryPath(), '--host=127.0.0.1', '--port=0'] };
}

/** Starts the in-memory jongodb server and returns its address. */
export async function startJongodb(logger: Logger): Promise<EmbeddedServer> {
  const { command, args } = jongodbCommand();
  const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  const stderr: string[] = [];
  createInterface({ input: child.stderr }).on('line', (line) => {
    stderr.push(line);
    logger.debug({ jongodb: line }, 'jongodb stderr');
  });

  // It prints "JONGODB_URI=mongodb://127.0.0.1:<port>/test" once it listens.
  const uri = await new Promise<string>((resolve, reject) => {
    const fail = (reason: string) => {
      child.kill('SIGKILL');
      reject(new Error(`jongodb (${jongodbBinaryPath()}) did not start: ${reason}${stderr.length ? `\n${stderr.join('\n')}` : ''}`));
    };
    const timer = setTimeout(() => fail(`no address printed within ${START_TIMEOUT_MS} ms`), START_TIMEOUT_MS);
    child.once('error', (error) => fail(error.message));
    const exitedEarly = (code: number | null, signal: string | null) => fail(`it exited (code ${code}, signal ${signal})`);
    child.once('exit', exitedEarly);
    createInterface({ input: child.stdout }).on('line', (line) => {
      const match = /^JONGODB_URI=(mongodb:\/\/\S+)$/.exec(line.trim());
      if (match) {
        clearTimeout(timer);
        child.off('exit', exitedEarly);
        resolve(match[1]);
      } else {
        logger.debug({ jongodb: line }, 'jongodb stdout');
      }
    });
  });

  return {
    uri,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.stdin.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      await exited;
      clearTimeout(timer);
    },
  };
}
