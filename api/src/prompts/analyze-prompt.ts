import { GenerationSettings } from '@easel/schema';
import { parseAttention, type PromptSegment } from '@easel/schema';
import { InvalidInputError } from '../errors.js';
import { enhancePrompts, type EnhancerModel, type EnhancerPreset } from './enhance-prompts.js';
import { lintPrompt } from './lint/lint-prompt.js';
import type { TokenCountSource, TokenCounter } from './token-counter.js';
import type { PromptWarning } from './warnings.js';

export interface AnalyzedPrompt {
  /** As A1111's parse_prompt_attention gives them; a BREAK is `{ text: 'BREAK', weight: -1 }`. */
  segments: PromptSegment[];
  tokenCount: number;
  /** How many 75-token chunks the text encoder reads. */
  chunks: number;
  /** The "75" of "23/75". */
  tokenLimit: number;
  tokenCountSource: TokenCountSource;
  warnings: PromptWarning[];
}

export interface PromptAnalysis {
  prompt: AnalyzedPrompt;
  /** Null when no negative prompt was given. */
  negativePrompt: AnalyzedPrompt | null;
  /** What the model receives when the prompt enhancer is on. */
  enhancedPrompt: string;
  enhancedNegativePrompt: string;
}

export interface PromptsToAnalyze {
  prompt: string;
  negativePrompt?: string | null;
}

/** Everything `analyzePrompt` tells about a prompt pair for one model. Throws only for oversize input. */
export function analyzePrompts(
  model: EnhancerModel,
  preset: EnhancerPreset | undefined,
  counter: TokenCounter,
  { prompt, negativePrompt }: PromptsToAnalyze,
): PromptAnalysis {
  checkPromptLength('prompt', prompt);
  if (negativePrompt != null) checkPromptLength('negativePrompt', negativePrompt);

  const analyze = (text: string, isNegative: boolean): AnalyzedPrompt => {
    const { tokenCount, chunkCount, tokenLimit } = counter.count(text);
    return {
      segments: parseAttention(text),
      tokenCount,
      chunks: chunkCount,
      tokenLimit,
      tokenCountSource: counter.source,
      warnings: lintPrompt(text, { ...model, isNegative, qualityTags: preset?.qualityTags }),
    };
  };
  const enhanced = enhancePrompts(model, preset, { prompt, negativePrompt });
  return {
    prompt: analyze(prompt, false),
    negativePrompt: negativePrompt == null ? null : analyze(negativePrompt, true),
    enhancedPrompt: enhanced.prompt,
    enhancedNegativePrompt: enhanced.negativePrompt,
  };
}

const MAX_PROMPT_LENGTH = GenerationSettings.shape.prompt.maxLength!;

/** The same limit as a generation's prompts (the job contract's), so what analyses can be generated. */
export function checkPromptLength(field: 'prompt' | 'negativePrompt', text: string): void {
  if (text.length > MAX_PROMPT_LENGTH) {
    throw new InvalidInputError(`${field} is ${text.length} characters long; the limit is ${MAX_PROMPT_LENGTH}.`);
  }
}
