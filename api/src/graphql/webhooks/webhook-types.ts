import { Field, ID, InputType, Int, ObjectType } from 'type-graphql';
import { WEBHOOK_EVENTS, type WebhookEvent } from '../../webhooks/webhook-events.js';
import { graphqlEnum } from '../enum.js';

export const WebhookEventEnum = graphqlEnum('WebhookEvent', WEBHOOK_EVENTS, 'A generation event a webhook can ask for (as Replicate\'s webhook_events_filter).');
export const DeliveryStatusEnum = graphqlEnum('WebhookDeliveryStatus', ['PENDING', 'DELIVERED', 'FAILED'] as const, 'PENDING: not yet answered with 2xx, retries left; DELIVERED; FAILED: given up after the last retry.');

@InputType({ description: 'Where to post the generation\'s events, signed with your webhook secret (`webhookSecret`), in the Standard Webhooks form.' })
export class WebhookInput {
  @Field({ description: 'An http(s) URL; in production it may not resolve to a loopback, private or link-local address.' })
  url!: string;

  @Field(() => [WebhookEventEnum], { nullable: true, description: 'The events wanted; omitted: all of them.' })
  events?: WebhookEvent[];
}

@ObjectType({ description: 'One webhook event sent (or being sent) to a receiver.' })
export class WebhookDelivery {
  @Field(() => ID, { description: 'The idempotency id, sent as `webhook-id` (the same on every retry).' })
  id!: string;

  @Field(() => ID)
  generationId!: string;

  @Field(() => WebhookEventEnum)
  event!: WebhookEvent;

  @Field()
  url!: string;

  @Field(() => DeliveryStatusEnum)
  status!: 'PENDING' | 'DELIVERED' | 'FAILED';

  @Field(() => Int, { description: 'Attempts made so far.' })
  attempts!: number;

  @Field(() => Int, { nullable: true, description: 'The HTTP status of the last answer, if any.' })
  lastStatusCode?: number;

  @Field(() => String, { nullable: true, description: 'Why the last attempt failed.' })
  lastError?: string;

  @Field()
  createdAt!: Date;

  @Field(() => Date, { nullable: true })
  deliveredAt?: Date;
}
