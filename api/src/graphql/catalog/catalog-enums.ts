import { MODEL_FAMILIES } from '@easel/schema';
import { MODEL_TIERS, PROMPT_STYLES } from '../../catalog/catalog-entry.js';
import { graphqlEnum } from '../enum.js';

export const ModelFamilyEnum = graphqlEnum(
  'ModelFamily',
  MODEL_FAMILIES,
  'Model family. ILLUSTRIOUS and PONY are SDXL fine-tunes with their own prompt habits.',
);
export const ModelTierEnum = graphqlEnum('ModelTier', MODEL_TIERS, 'EASY: good results from plain prompts. ADVANCED: rewards prompt craft.');
export const PromptStyleEnum = graphqlEnum('PromptStyle', PROMPT_STYLES, 'TAGS: comma-separated danbooru-style tags. NATURAL: plain sentences.');
