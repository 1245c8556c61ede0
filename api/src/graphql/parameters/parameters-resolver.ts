import { Arg, Authorized, Ctx, ID, Query, Resolver } from 'type-graphql';
import { pasteParameters, pngInfo } from '../../parameters/paste-parameters.js';
import type { GraphQLContext } from '../context.js';
import { PastedParameters } from './parameters-types.js';

@Resolver()
export class ParametersResolver {
  @Authorized()
  @Query(() => PastedParameters, {
    description: "Reads an A1111, Forge or Civitai infotext (the \"parameters\" of a PNG, as A1111's PNG Info shows it) into generateImage's input, naming each field it could not map.",
  })
  parseParameters(@Arg('text') text: string): PastedParameters {
    return pasteParameters(text);
  }

  @Authorized()
  @Query(() => PastedParameters, { description: "parseParameters on the infotext of a PNG you uploaded (POST /uploads): A1111's PNG Info." })
  pngInfo(@Ctx() { user }: GraphQLContext, @Arg('uploadId', () => ID) uploadId: string): Promise<PastedParameters> {
    return pngInfo(user!.id, uploadId);
  }
}
