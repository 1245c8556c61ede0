import { graphql, type ResultOf } from './graphql.js';

/** Every operation the page sends; the types of their results come from the schema. */

export const TokenBalanceFields = graphql(`
  fragment TokenBalanceFields on TokenBalance { balance daily bonus dailyAllowance resetsAt }
`);

export const MeQuery = graphql(
  `
    query Me { me { id name plan tokens { ...TokenBalanceFields } } }
  `,
  [TokenBalanceFields],
);

export const StudioCatalogQuery = graphql(`
  query StudioCatalog {
    models {
      id slug name description family tier promptStyle installed source path
      allowedSizes { width height }
      defaults { width height steps cfgScale sampler clipSkip }
    }
    samplers { label recommended }
  }
`);

export const AnalyzePromptQuery = graphql(`
  query AnalyzePrompt($modelId: ID!, $prompt: String!, $negativePrompt: String) {
    analyzePrompt(modelId: $modelId, prompt: $prompt, negativePrompt: $negativePrompt) {
      enhancedPrompt enhancedNegativePrompt
      prompt { tokenCount tokenLimit chunks tokenCountSource warnings { code message suggestion start end replacement } }
      negativePrompt { tokenCount tokenLimit chunks tokenCountSource warnings { code message suggestion start end replacement } }
    }
  }
`);

export const GenerationFields = graphql(`
  fragment GenerationFields on Generation {
    id status queuePosition etaSeconds step totalSteps previewUrl cancelRequested refunded
    error errorCode tokensCharged createdAt warnings { code message }
    prompt negativePrompt finalPrompt finalNegativePrompt enhancePrompt baseImageId
    model { id name family }
    settings { width height steps cfgScale sampler clipSkip seed batchSize denoiseStrength }
    images { id signedUrl width height seed infotext }
  }
`);

export const GenerateImageMutation = graphql(
  `
    mutation GenerateImage($input: GenerateImageInput!) { generateImage(input: $input) { ...GenerationFields } }
  `,
  [GenerationFields],
);

export const CancelGenerationMutation = graphql(
  `
    mutation CancelGeneration($id: ID!) { cancelGeneration(id: $id) { ...GenerationFields } }
  `,
  [GenerationFields],
);

export const GenerationUpdatedSubscription = graphql(
  `
    subscription GenerationUpdated($id: ID!) { generationUpdated(id: $id) { ...GenerationFields } }
  `,
  [GenerationFields],
);

export const MyGenerationsSubscription = graphql(
  `
    subscription MyGenerations { myGenerations { ...GenerationFields } }
  `,
  [GenerationFields],
);

export const GenerationsQuery = graphql(
  `
    query Generations($after: String, $first: Int!) {
      generations(after: $after, first: $first) {
        edges { node { ...GenerationFields } }
        pageInfo { endCursor hasNextPage }
      }
    }
  `,
  [GenerationFields],
);

/** A generation's base image, read when its settings are reused (not with every generation shown). */
export const BaseImageQuery = graphql(`
  query BaseImage($id: ID!) { generation(id: $id) { baseImage { id signedUrl width height } } }
`);

export type Model = ResultOf<typeof StudioCatalogQuery>['models'][number];
export type SamplerOption = ResultOf<typeof StudioCatalogQuery>['samplers'][number];
export type Analysis = ResultOf<typeof AnalyzePromptQuery>['analyzePrompt'];
export type AnalyzedPrompt = Analysis['prompt'];
export type PromptWarning = AnalyzedPrompt['warnings'][number];
