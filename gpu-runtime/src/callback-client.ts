import pRetry, { AbortError } from 'p-retry';
import { CallbackReply, type GenerationEvent } from '@easel/schema';
import { SIGNATURE_HEADER, signBody } from '@easel/schema';

/** What the function knows about a job's callback endpoint. */
export interface CallbackTarget {
  url: string;
  secret: string;
  jobId: string;
  attempt: number;
}

type EventBody = GenerationEvent extends infer E ? (E extends GenerationEvent ? Omit<E, 'jobId' | 'attempt' | 'sequence' | 'at'> : never) : never;

export interface CallbackClientOptions {
  /** Retries for a transient failure (network error, 429, 5xx), with exponential backoff. */
  retries?: number;
  minTimeoutMs?: number;
  /** Called once when the API answers `cancel: true` (or the job is gone). */
  onCancel?: () => void;
}

export class CallbackRejectedError extends Error {
  constructor(readonly status: number, body: string) {
    super(`callback refused the event with HTTP ${status}: ${body.slice(0, 200)}`);
    this.name = 'CallbackRejectedError';
  }
}

/**
 * Posts a job's events in order. Events are signed and numbered here, so a retried post is
 * byte-identical and the API can recognise it as a duplicate. Progress is fire-and-forget for the
 * denoising loop: it queues behind earlier events, and a queued progress event that has not
 * been sent yet is replaced by a newer one instead of piling up behind a slow callback.
 */
export class CallbackClient {
  private sequence = 0;
  private chain: Promise<unknown> = Promise.resolve();
  private pendingProgress: { event: EventBody; resolve: () => void } | undefined;
  private cancelled = false;

  constructor(private readonly target: CallbackTarget, private readonly options: CallbackClientOptions = {}) {}

  get isCancelled(): boolean {
    return this.cancelled;
  }

  /** Queues an event and resolves when it has been delivered (or given up on). */
  send(event: EventBody): Promise<void> {
    if (event.type === 'progress' && this.pendingProgress) {
      // The older progress has not left yet: send the newer one in its place.
      this.pendingProgress.event = mergePreview(this.pendingProgress.event, event);
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const slot = { event, resolve };
      if (event.type === 'progress') this.pendingProgress = slot;
      this.chain = this.chain.then(async () => {
        if (this.pendingProgress === slot) this.pendingProgress = undefined;
        try {
          await this.deliver(slot.event);
          resolve();
        } catch (error) {
          reject(error);
        }
      });
    });
  }

  /** Waits for everything queued so far. */
  async flush(): Promise<void> {
    await this.chain.catch(() => undefined);
  }

  private async deliver(event: EventBody): Promise<void> {
    const { url, secret, jobId, attempt } = this.target;
    const body = JSON.stringify({ ...event, jobId, attempt, sequence: this.sequence++, at: Date.now() });
    const reply = await pRetry(
      async () => {
        const response = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', [SIGNATURE_HEADER]: signBody(secret, body) },
          body,
        });
        const text = await response.text();
        if (response.status === 429 || response.status >= 500) throw new Error(`callback answered HTTP ${response.status}`);
        if (!response.ok) throw new AbortError(new CallbackRejectedError(response.status, text));
        return CallbackReply.safeParse(safeJson(text));
      },
      { retries: this.options.retries ?? 5, minTimeout: this.options.minTimeoutMs ?? 200, factor: 2 },
    ).catch((error: unknown) => {
      // 404/409/410: the API no longer wants this attempt (cancelled, expired or handed to a retry).
      if (error instanceof CallbackRejectedError && [404, 409, 410].includes(error.status)) {
        this.markCancelled();
        return undefined;
      }
      throw error;
    });
    if (reply?.success && reply.data.cancel) this.markCancelled();
  }

  private markCancelled(): void {
    if (this.cancelled) return;
    this.cancelled = true;
    this.options.onCancel?.();
  }
}

/** A replaced progress event keeps the older preview when the newer step has none. */
function mergePreview(older: EventBody, newer: EventBody): EventBody {
  if (older.type !== 'progress' || newer.type !== 'progress') return newer;
  return { ...newer, previewWebp: newer.previewWebp ?? older.previewWebp };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
