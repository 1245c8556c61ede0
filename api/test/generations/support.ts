import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { GraphQLResponse, TestServer } from '../support/server.js';

/** Everything a client may read of a Generation. */
export const GENERATION_FIELDS = `
  id status queuePosition step totalSteps etaSeconds previewUrl
  images { id url seed width height infotext }
  error errorCode prompt finalPrompt negativePrompt finalNegativePrompt enhancePrompt
  model { id name family }
  settings { width height steps cfgScale sampler samplerId schedule clipSkip seed rngSource subseed subseedStrength etaNoiseSeedDelta batchSize denoiseStrength }
  seed sampler baseImageId tokensCharged refunded cancelRequested clientRequestId createdAt
`;

export interface GenerationView {
  id: string;
  status: string;
  queuePosition: number | null;
  step: number;
  totalSteps: number;
  etaSeconds: number | null;
  previewUrl: string | null;
  images: { id: string; url: string; seed: number; width: number; height: number; infotext: string | null }[];
  error: string | null;
  errorCode: string | null;
  prompt: string;
  finalPrompt: string;
  negativePrompt: string | null;
  finalNegativePrompt: string | null;
  model: { id: string; name: string; family: string };
  settings: Record<string, unknown> & { seed: number; width: number; height: number; steps: number; batchSize: number };
  seed: number;
  sampler: string;
  baseImageId: string | null;
  tokensCharged: number;
  refunded: boolean;
  cancelRequested: boolean;
  clientRequestId: string | null;
  createdAt: string;
}

/** The catalog calls a model installed when its folder has a model_index.json; no weights are needed until a job runs. */
export async function installModel(server: TestServer, folder: string): Promise<void> {
  await mkdir(path.join(server.modelsDir, folder), { recursive: true });
  await writeFile(path.join(server.modelsDir, folder, 'model_index.json'), '{}');
}

export function generate(server: TestServer, key: string, input: Record<string, unknown>): Promise<GraphQLResponse<{ generateImage: GenerationView }>> {
  return server.graphql(`mutation ($input: GenerateImageInput!) { generateImage(input: $input) { ${GENERATION_FIELDS} } }`, {
    key,
    variables: { input },
  });
}

export async function balanceOf(server: TestServer, key: string): Promise<number> {
  const response = await server.graphql<{ me: { tokens: { balance: number } } }>('{ me { tokens { balance } } }', { key });
  return response.data!.me.tokens.balance;
}
