import path from 'node:path';
import type { Logger } from 'pino';

/**
 * One load per model folder per process: later and concurrent calls for the same folder share the
 * same sessions, so a warm function never reloads a model. A failed load is forgotten, so the next
 * call tries again (say, after a download finished). `unload` drops a model and frees its
 * sessions (GPU memory included).
 */
export function modelCache<T extends { release(): Promise<void> }>(read: (dir: string, logger: Logger | undefined) => Promise<T>) {
  const loaded = new Map<string, Promise<T>>();
  return {
    load(dir: string, options: { logger?: Logger } = {}): Promise<T> {
      const key = path.resolve(dir);
      let loading = loaded.get(key);
      if (!loading) {
        loading = read(key, options.logger);
        loaded.set(key, loading);
        loading.catch(() => loaded.delete(key));
      }
      return loading;
    },
    async unload(dir: string): Promise<void> {
      const key = path.resolve(dir);
      const loading = loaded.get(key);
      if (!loading) return;
      loaded.delete(key);
      const model = await loading.catch(() => undefined);
      await model?.release();
    },
  };
}
