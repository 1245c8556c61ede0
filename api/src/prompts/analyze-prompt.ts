import { GenerationSettings } from '@easel/schema';
import { extractLoraTags, FAMILY_ARCHITECTURE, isBreak, takesNegativePrompt, parseAttention, promptSchedule, splitSubprompts, type PromptScheduleEntry, type PromptSegment, type Subprompt } from '@easel/schema';
import { InvalidInputError } from '../errors.js';
import { enhancePrompts, type EnhancerModel, type EnhancerPreset } from './enhance-prompts.js';
import { lintPrompt } from './lint/lint-prompt.js';
import type { T5TokenCounter } from './t5-token-counter.js';
import type { TokenCountSource, TokenCounter } from './token-counter.js';
import { PromptWarningCode, warning, type PromptWarning } from './warnings.js';

export interface AnalyzedPrompt {
  /** The prompt as written. */
  text: string;
  /** As A1111's parse_prompt_attention gives them; a BREAK is `{ text: 'BREAK', weight: -1 }`. */
  segments: PromptSegment[];
  tokenCount: number;
  /** How many 75-token chunks the text encoder reads. */
  chunks: number;
  /** The "75" of "23/75". */
  tokenLimit: number;
  tokenCountSource: TokenCountSource;
  /** Flux: T5 tokens the prompt needs, `</s>` included; null for other families. */
  t5TokenCount: number | null;
  /** Flux: what T5 reads, 256 ([schnell]) or 512 ([dev]); null for other families. */
  t5TokenLimit: number | null;
  warnings: PromptWarning[];
  /** The AND parts with their weights (A1111's composable prompts); one part without AND. */
  subprompts: Subprompt[];
}

/** The prompt's text at each step where prompt editing or alternation changes it, as A1111 schedules it. */
export function analyzedSchedule(prompt: Pick<AnalyzedPrompt, 'text'>, steps: number): PromptScheduleEntry[] {
  if (!GenerationSettings.shape.steps.safeParse(steps).success) {
    throw new InvalidInputError(`steps must be a whole number from 1 to ${GenerationSettings.shape.steps.maxValue}; got ${steps}.`);
  }
  return promptSchedule(prompt.text, steps);
}

/** Flux's T5 side: how to count, and how much the model reads. */
export interface T5Counting {
  counter: T5TokenCounter;
  limit: number;
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
  t5?: T5Counting,
): PromptAnalysis {
  checkPromptLengths({ prompt, negativePrompt });
  const enhanced = enhancePrompts(model, preset, { prompt, negativePrompt });
  return {
    prompt: analyzeOne(model, preset, counter, t5, prompt, false),
    negativePrompt: negativePrompt == null ? null : analyzeOne(model, preset, counter, t5, negativePrompt, true),
    enhancedPrompt: enhanced.prompt,
    enhancedNegativePrompt: enhanced.negativePrompt,
  };
}

/**
 * The same, one prompt at a time, each after `takeTurn()` resolves: a request with many long
 * prompts never holds the event loop for longer than one of them takes (see cpu-turns.ts).
 */
export async function analyzePromptsInTurns(
  model: EnhancerModel,
  preset: EnhancerPreset | undefined,
  counter: TokenCounter,
  { prompt, negativePrompt }: PromptsToAnalyze,
  takeTurn: () => Promise<void>,
  t5?: T5Counting,
): Promise<PromptAnalysis> {
  checkPromptLengths({ prompt, negativePrompt });
  await takeTurn();
  const enhanced = enhancePrompts(model, preset, { prompt, negativePrompt });
  await takeTurn();
  const analyzedPrompt = analyzeOne(model, preset, counter, t5, prompt, false);
  if (negativePrompt != null) await takeTurn();
  return {
    prompt: analyzedPrompt,
    negativePrompt: negativePrompt == null ? null : analyzeOne(model, preset, counter, t5, negativePrompt, true),
    enhancedPrompt: enhanced.prompt,
    enhancedNegativePrompt: enhanced.negativePrompt,
  };
}

function checkPromptLengths({ prompt, negativePrompt }: PromptsToAnalyze): void {
  checkPromptLength('prompt', prompt);
  if (negativePrompt != null) checkPromptLength('negativePrompt', negativePrompt);
}

function analyzeOne(
  model: EnhancerModel,
  preset: EnhancerPreset | undefined,
  counter: TokenCounter,
  t5: T5Counting | undefined,
  text: string,
  isNegative: boolean,
): AnalyzedPrompt {
  const flux = FAMILY_ARCHITECTURE[model.family] === 'flux' && t5 !== undefined;
  // The encoders never see LoRA tags; the linter sees blanks in their place, so its offsets still point into `text`.
  const { text: encoded, tags, problems } = extractLoraTags(text);
  const blanked = [...tags, ...problems].reduce((t, { start, end }) => t.slice(0, start) + ' '.repeat(end - start) + t.slice(end), text);
  const { tokenCount, chunkCount, tokenLimit } = counter.count(encoded);
  const segments = parseAttention(encoded);
  const warnings = lintPrompt(blanked, { ...model, isNegative, qualityTags: preset?.qualityTags });
  const t5TokenCount = flux ? t5.counter.count(encoded) : null;
  if (flux && !isNegative) warnings.push(...fluxWarnings(blanked, segments, t5TokenCount!, t5.limit));
  if (isNegative && !takesNegativePrompt(model.family) && text.trim() !== '') warnings.push(negativePromptUnused(text));
  return {
    text,
    segments,
    tokenCount,
    chunks: chunkCount,
    tokenLimit,
    tokenCountSource: counter.source,
    t5TokenCount,
    t5TokenLimit: flux ? t5.limit : null,
    warnings,
    // A1111 splits only the prompt at AND; the negative prompt is read as one.
    subprompts: isNegative ? [{ text, weight: 1, start: 0 }] : splitSubprompts(text),
  };
}

/**
 * What the model will do with a Flux prompt that its writer may not expect (weights read as plain
 * words, the end cut off by T5): the warnings generateImage stores with the generation.
 */
export function fluxPromptEffects(prompt: string, t5: T5Counting): PromptWarning[] {
  const { text: encoded } = extractLoraTags(prompt);
  return fluxWarnings(prompt, parseAttention(encoded), t5.counter.count(encoded), t5.limit);
}

/**
 * What Flux does differently with a prompt: T5 reads a fixed number of tokens and drops the rest,
 * and attention weights mean nothing to it (Easel reads `(word:1.3)` as `word`).
 */
function fluxWarnings(text: string, segments: PromptSegment[], t5Tokens: number, limit: number): PromptWarning[] {
  const warnings: PromptWarning[] = [];
  if (segments.some((segment) => !isBreak(segment) && segment.weight !== 1)) {
    warnings.push(
      warning(PromptWarningCode.WEIGHTS_IGNORED, 'Flux has no attention weights: (word:1.3) and [word] are read as plain "word".', {
        suggestion: 'Say what matters in words instead ("a very large red hat", "in sharp focus").',
      }),
    );
  }
  if (t5Tokens > limit) {
    warnings.push(
      warning(PromptWarningCode.T5_PROMPT_CUT, `This prompt is ${t5Tokens} T5 tokens long; the model reads ${limit}, so the end is cut off.`, {
        start: text.length,
        end: text.length,
        suggestion: 'Shorten the prompt, or move what matters most to the start.',
      }),
    );
  }
  return warnings;
}

/** Flux has no negative prompt: generateImage refuses one (resolveSettings), and says so here first. */
function negativePromptUnused(text: string): PromptWarning {
  return warning(
    PromptWarningCode.NEGATIVE_PROMPT_UNUSED,
    'Flux runs without classifier-free guidance, so a negative prompt has no effect; generateImage refuses one for Flux models.',
    { start: 0, end: text.length, replacement: '', suggestion: 'Leave the negative prompt empty; say what you want in the prompt instead ("a clear, sharp photo").' },
  );
}

const MAX_PROMPT_LENGTH = GenerationSettings.shape.prompt.maxLength!;

/** The same limit as a generation's prompts (the job contract's), so what analyses can be generated. */
export function checkPromptLength(field: 'prompt' | 'negativePrompt', text: string): void {
  if (text.length > MAX_PROMPT_LENGTH) {
    throw new InvalidInputError(`${field} is ${text.length} characters long; the limit is ${MAX_PROMPT_LENGTH}.`);
  }
}
