import mongoose from 'mongoose';
import { Arg, Authorized, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import { ImageSettings, samplerLabel, SCHEDULE_LABELS } from '@easel/schema';
import type { GenerationStatus } from '../../generations/generation.js';
import {
  cancelGeneration,
  findOwnGeneration,
  generateImage,
  listGenerations,
  MAX_GENERATIONS_PAGE,
} from '../../generations/create/generation-service.js';
import { findImage, type ImageBucket } from '../../generations/images/image-store.js';
import { IMAGES_PATH } from '../../http/image-routes.js';
import { UPLOADS_PATH } from '../../http/uploads.js';
import type { PublishedGeneration } from '../../generations/events/publisher.js';
import { queuePosition } from '../../generations/dispatch/queue.js';
import type { GraphQLContext } from '../context.js';
import { connection, type Connection } from '../pagination.js';
import { withoutNulls } from '../without-nulls.js';
import { GenerateImageInput } from './generation-inputs.js';
import {
  GeneratedImage,
  ImageFile,
  Generation,
  GenerationConnection,
  GenerationModelRef,
  GenerationSettingsInfo,
  GenerationStatusEnum,
  GenerationWarning,
} from './generation-types.js';

@Resolver(() => Generation)
export class GenerationResolver {
  @Authorized()
  @Mutation(() => Generation, {
    description:
      'Charges one token per image and queues the generation; it returns at once, QUEUED. Follow it with the ' +
      '`generationUpdated` subscription. Errors: BAD_USER_INPUT (with `invalidFields`), NOT_FOUND (model or base ' +
      'image), INSUFFICIENT_TOKENS (with `balance` and `needed`), CONFLICT (a clientRequestId reused with other ' +
      'parameters), RATE_LIMITED (with `retryAfter`).',
  })
  async generateImage(@Ctx() { user, services }: GraphQLContext, @Arg('input') input: GenerateImageInput): Promise<PublishedGeneration> {
    await services.rateLimits.consume('generate', user!.id);
    return generateImage(services, user!, withoutNulls(input));
  }

  @Authorized()
  @Query(() => Generation, { nullable: true, description: 'One of your generations (NOT_FOUND for anyone else\'s).' })
  generation(@Ctx() { user }: GraphQLContext, @Arg('id', () => ID) id: string): Promise<PublishedGeneration> {
    return findOwnGeneration(user!.id, id);
  }

  @Authorized()
  @Query(() => GenerationConnection, { description: 'Your generations, newest first.' })
  async generations(
    @Ctx() { user }: GraphQLContext,
    @Arg('first', () => Int, { defaultValue: 20, description: `Generations per page, 1 to ${MAX_GENERATIONS_PAGE}.` }) first: number,
    @Arg('after', () => String, { nullable: true, description: 'The `endCursor` of the previous page.' }) after?: string | null,
    @Arg('status', () => GenerationStatusEnum, { nullable: true, description: 'Only generations in this status.' }) status?: GenerationStatus | null,
  ): Promise<Connection<PublishedGeneration>> {
    const page = await listGenerations(user!.id, { first, after: after ?? undefined, status: status ?? undefined });
    const edges = page.edges.map(({ cursor, generation }) => ({ cursor, node: generation }));
    return connection(edges, { after, hasNextPage: page.hasNextPage });
  }

  @Authorized()
  @Mutation(() => Generation, {
    description:
      'Cancels one of your generations. QUEUED: it ends CANCELLED at once and its tokens come back. RUNNING: it ' +
      'stops at its next step and then ends CANCELLED, refunded (`cancelRequested` is true meanwhile). Finished: unchanged.',
  })
  cancelGeneration(@Ctx() { user, services }: GraphQLContext, @Arg('id', () => ID) id: string): Promise<PublishedGeneration> {
    return cancelGeneration(services, user!.id, id);
  }

  @FieldResolver()
  id(@Root() generation: PublishedGeneration): string {
    return generation._id.toHexString();
  }

  @FieldResolver()
  queuePosition(@Root() generation: PublishedGeneration): Promise<number | null> {
    return queuePosition(generation);
  }

  @FieldResolver()
  previewUrl(@Root() generation: PublishedGeneration): string | null {
    const preview = generation.preview && bytesOf(generation.preview);
    return preview?.length ? `data:image/webp;base64,${preview.toString('base64')}` : null;
  }

  @FieldResolver()
  images(@Root() generation: PublishedGeneration, @Ctx() { services }: GraphQLContext): GeneratedImage[] {
    return generation.images.map((image) => ({
      ...fileLinks(services, 'images', image.fileId.toHexString()),
      seed: image.seed,
      width: image.width,
      height: image.height,
      infotext: image.infotext ?? null,
    }));
  }

  @FieldResolver(() => ImageFile, { nullable: true })
  async baseImage(@Root() generation: PublishedGeneration, @Ctx() { services }: GraphQLContext): Promise<ImageFile | null> {
    if (!generation.baseImageId) return null;
    const id = generation.baseImageId.toHexString();
    const file = await findImage('uploads', id, generation.userId);
    return file ? { ...fileLinks(services, 'uploads', id), width: file.metadata.width, height: file.metadata.height } : null;
  }

  @FieldResolver()
  model(@Root() generation: PublishedGeneration): GenerationModelRef {
    const { id, name, family } = generation.model;
    return { id, name, family };
  }

  @FieldResolver()
  settings(@Root() { settings }: PublishedGeneration): GenerationSettingsInfo {
    // ImageSettings' defaults fill settings a generation stored before they existed (the noise settings).
    const parsed = ImageSettings.safeParse(settings);
    const complete = { ...(parsed.success ? parsed.data : {}), ...settings };
    const { hires } = complete;
    return {
      ...complete,
      sampler: samplerLabel(settings),
      samplerId: settings.sampler,
      scheduleLabel: SCHEDULE_LABELS[settings.schedule],
      padConds: complete.padConds ?? false,
      hires: hires ? { ...hires, samplerId: hires.sampler ?? null, schedule: hires.schedule ?? null } : null,
    };
  }

  @FieldResolver()
  seed(@Root() generation: PublishedGeneration): number {
    return generation.settings.seed;
  }

  @FieldResolver()
  sampler(@Root() generation: PublishedGeneration): string {
    return samplerLabel(generation.settings);
  }

  @FieldResolver()
  warnings(@Root() generation: PublishedGeneration): GenerationWarning[] {
    // Generations stored before warnings existed have none.
    return generation.warnings ?? [];
  }

  @FieldResolver()
  baseImageId(@Root() generation: PublishedGeneration): string | null {
    return generation.baseImageId?.toHexString() ?? null;
  }
}

/** Where the owner fetches a stored file, with a key or with the signed link. */
function fileLinks(services: GraphQLContext['services'], bucket: ImageBucket, id: string): Pick<ImageFile, 'id' | 'url' | 'signedUrl'> {
  const url = `${services.publicUrl}${bucket === 'images' ? IMAGES_PATH : UPLOADS_PATH}/${id}`;
  return { id, url, signedUrl: `${url}?${services.imageLinks.query(id, bucket)}` };
}

/** A Buffer field reads back as a Buffer from mongoose documents, and as BSON Binary from lean reads. */
function bytesOf(value: Buffer | mongoose.mongo.Binary): Buffer {
  return value instanceof mongoose.mongo.Binary ? Buffer.from(value.buffer) : value;
}
