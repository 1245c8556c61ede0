import { Arg, Authorized, Ctx, Int, Mutation, Query, Resolver } from 'type-graphql';
import { recentDeliveries } from '../../webhooks/webhook-deliveries.js';
import type { GraphQLContext } from '../context.js';
import { WebhookDelivery } from './webhook-types.js';

@Resolver()
export class WebhookResolver {
  @Authorized()
  @Query(() => String, { description: 'Your webhook signing secret (whsec_…): verify `webhook-signature` with it. Made on first use.' })
  webhookSecret(@Ctx() { user, services }: GraphQLContext): Promise<string> {
    return services.webhookSecrets.get(user!.id);
  }

  @Authorized()
  @Mutation(() => String, { description: 'Replaces your webhook secret and returns the new one; deliveries from now on (retries included) are signed with it.' })
  rotateWebhookSecret(@Ctx() { user, services }: GraphQLContext): Promise<string> {
    return services.webhookSecrets.rotate(user!.id);
  }

  @Authorized()
  @Query(() => [WebhookDelivery], { description: 'Your most recent webhook deliveries, newest first.' })
  async webhookDeliveries(
    @Ctx() { user }: GraphQLContext,
    @Arg('limit', () => Int, { defaultValue: 20, description: '1 to 100.' }) limit: number,
  ): Promise<WebhookDelivery[]> {
    const deliveries = await recentDeliveries(user!.id, Math.min(Math.max(limit, 1), 100));
    return deliveries.map(({ _id, ...delivery }) => ({ ...delivery, id: `msg_${_id.toHexString()}` }));
  }
}
