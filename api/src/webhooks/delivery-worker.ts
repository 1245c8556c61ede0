import type { Logger } from 'pino';
import { fetch, type Agent } from 'undici';
import { ALL_GENERATIONS_TOPIC, type PublishedGeneration } from '../generations/events/publisher.js';
import type { EaselPubSub } from '../generations/events/event-bus.js';
import { FINAL_STATUSES, GenerationModel, type GenerationDocument } from '../generations/generation.js';
import { recordWebhookEvent, WebhookDeliveryModel, type DeliveryStatus, type WebhookDeliveryDocument } from './webhook-deliveries.js';
import type { WebhookSecrets } from './webhook-secrets.js';
import { signedHeaders } from './webhook-signing.js';
import { checkWebhookUrl, webhookAgent } from './webhook-url.js';

export interface WebhookWorkerOptions {
  pubSub: EaselPubSub;
  logger: Logger;
  /** Waits before each retry; attempts = retries + 1, then the delivery is FAILED. */
  retryDelaysMs: number[];
  /** How long a receiver gets to answer one attempt. */
  timeoutMs: number;
  /** Production: refuse URLs that resolve to loopback, private or link-local addresses. */
  publicOnly: boolean;
  publicUrl: () => string;
  /** The users' signing secrets. */
  secrets: WebhookSecrets;
  pollMs?: number;
}

/** How far back the sweep looks for final states whose event was never recorded. */
const SWEEP_WINDOW_MS = 24 * 3_600_000;
const SWEEP_EVERY_MS = 10_000;

/*
 * Sends the stored webhook deliveries, on every instance (a conditional claim gives each to one):
 * - the deliveries are recorded where a state is stored, before it is announced (the lifecycle's
 *   `recordDeliveries`); the worker wakes when an update of a generation with a webhook is heard
 *   on the event bus, else polls; it also sweeps recent final states now and then, so a final
 *   event whose recording was cut by a crash after the state was stored is recorded all the same;
 * - sends each generation's deliveries one at a time, in the order recorded: a later event waits
 *   while an earlier one is retried, so a receiver gets them in order;
 * - a 2xx answer is DELIVERED; anything else is retried after `retryDelaysMs`, then FAILED.
 */
export class WebhookWorker {
  private timer: NodeJS.Timeout | undefined;
  private stopListening: (() => void) | undefined;
  private running: Promise<void> | undefined;
  private lastSweep = 0;
  private stopped = true;
  /** Woken while a pass ran: run the next one at once rather than after the poll interval. */
  private wokenWhileRunning = false;

  /** Connections to receivers, kept alive between deliveries; made at start, closed at stop. */
  private agent: Agent | undefined;

  constructor(private readonly options: WebhookWorkerOptions) {}

  start(): void {
    this.stopped = false;
    this.agent ??= webhookAgent(this.options.publicOnly);
    this.listen();
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.stopListening?.();
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
    await this.agent?.close();
    this.agent = undefined;
  }

  private listen(): void {
    if (this.stopped) return;
    try {
      this.stopListening = this.options.pubSub.listen(
        ALL_GENERATIONS_TOPIC,
        undefined,
        (generation) => {
          if ((generation as PublishedGeneration).webhook) this.schedule(0);
        },
        // The bus is gone: the deliveries are stored all the same and the poll sends them; listen again when it is back.
        () => setTimeout(() => this.listen(), 1_000).unref(),
      );
    } catch {
      setTimeout(() => this.listen(), 1_000).unref();
    }
  }

  private schedule(delayMs: number): void {
    if (this.running) this.wokenWhileRunning ||= delayMs === 0;
    if (this.stopped || this.running) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.running = this.pass()
        .catch((error: unknown) => this.options.logger.error({ err: error }, 'webhooks: a delivery pass failed'))
        .finally(() => {
          this.running = undefined;
          const woken = this.wokenWhileRunning;
          this.wokenWhileRunning = false;
          this.schedule(woken ? 0 : (this.options.pollMs ?? 1_000));
        });
    }, delayMs);
  }

  private async pass(): Promise<void> {
    if (Date.now() - this.lastSweep > SWEEP_EVERY_MS) {
      this.lastSweep = Date.now();
      await this.sweep();
    }
    const pending = await WebhookDeliveryModel.find({ status: 'PENDING' }).sort({ _id: 1 }).limit(200).lean<WebhookDeliveryDocument[]>();
    const firstPerGeneration = new Map<string, WebhookDeliveryDocument>();
    for (const delivery of pending) if (!firstPerGeneration.has(delivery.generationId)) firstPerGeneration.set(delivery.generationId, delivery);
    const now = new Date();
    const due = [...firstPerGeneration.values()].filter((delivery) => delivery.nextAttemptAt <= now && !(delivery.claimedUntil && delivery.claimedUntil > now));
    const outcomes = await Promise.all(due.map((delivery) => this.attempt(delivery)));
    // A generation's next delivery waited for this one: send it at once.
    if (outcomes.includes('DELIVERED')) this.wokenWhileRunning = true;
  }

  private async sweep(): Promise<void> {
    const since = new Date(Date.now() - SWEEP_WINDOW_MS);
    const ended = await GenerationModel.find({ 'webhook.url': { $exists: true }, status: { $in: FINAL_STATUSES }, updatedAt: { $gte: since } })
      .limit(500)
      .lean<GenerationDocument[]>();
    for (const generation of ended) await recordWebhookEvent(generation, this.options.publicUrl());
  }

  private async attempt(delivery: WebhookDeliveryDocument): Promise<DeliveryStatus | undefined> {
    const now = new Date();
    const claimed = await WebhookDeliveryModel.findOneAndUpdate(
      { _id: delivery._id, status: 'PENDING', attempts: delivery.attempts },
      { $set: { claimedUntil: new Date(now.getTime() + this.options.timeoutMs + 5_000) }, $inc: { attempts: 1 } },
      { returnDocument: 'after' },
    ).lean<WebhookDeliveryDocument>();
    if (!claimed) return undefined; // another instance has it
    const outcome = await this.send(claimed);
    if (outcome.ok) {
      await WebhookDeliveryModel.updateOne({ _id: claimed._id }, { $set: { status: 'DELIVERED', deliveredAt: new Date(), lastStatusCode: outcome.statusCode }, $unset: { claimedUntil: 1, lastError: 1 } });
      return 'DELIVERED';
    }
    const delay = this.options.retryDelaysMs[claimed.attempts - 1];
    const giveUp = delay === undefined || outcome.permanent;
    await WebhookDeliveryModel.updateOne(
      { _id: claimed._id },
      {
        $set: {
          status: giveUp ? 'FAILED' : 'PENDING',
          nextAttemptAt: new Date(Date.now() + (delay ?? 0)),
          lastError: outcome.error,
          ...(outcome.statusCode !== undefined && { lastStatusCode: outcome.statusCode }),
        },
        $unset: { claimedUntil: 1 },
      },
    );
    if (giveUp) this.options.logger.warn({ deliveryId: String(claimed._id), attempts: claimed.attempts, error: outcome.error }, 'webhooks: gave up a delivery');
    return giveUp ? 'FAILED' : 'PENDING';
  }

  private async send(delivery: WebhookDeliveryDocument): Promise<{ ok: boolean; statusCode?: number; error?: string; permanent?: boolean }> {
    try {
      await checkWebhookUrl(delivery.url, this.options.publicOnly);
    } catch (error) {
      return { ok: false, error: (error as Error).message, permanent: true };
    }
    if (!this.agent) return { ok: false, error: 'the webhook worker was stopped' };
    const id = `msg_${delivery._id.toHexString()}`;
    try {
      const response = await fetch(delivery.url, {
        method: 'POST',
        headers: signedHeaders(await this.options.secrets.get(delivery.userId), id, delivery.body),
        body: delivery.body,
        redirect: 'manual',
        dispatcher: this.agent,
        signal: AbortSignal.timeout(this.options.timeoutMs),
      });
      await response.body?.cancel();
      if (response.ok) return { ok: true, statusCode: response.status };
      return { ok: false, statusCode: response.status, error: `the receiver answered ${response.status}` };
    } catch (error) {
      if ((error as Error).name === 'TimeoutError') return { ok: false, error: `no answer within ${this.options.timeoutMs} ms` };
      // fetch says "fetch failed"; its cause says why (refused, reset, a private address).
      const cause = ((error as Error).cause as (Error & { code?: string }) | undefined) ?? (error as Error & { code?: string });
      return { ok: false, error: cause.message, permanent: cause.code === 'EWEBHOOKPRIVATE' };
    }
  }
}
