import type { ModelFamily } from '@easel/schema';
import type { ScannedPrompt } from '@easel/schema';
import type { PromptStyle } from '../../catalog/catalog-entry.js';
import type { PromptTag } from '../syntax/tags.js';
import type { PromptWarning, PromptWarningCode } from '../warnings.js';

/** A prompt as every rule sees it: read once, shared. */
export interface LintedPrompt {
  source: string;
  scan: ScannedPrompt;
  tags: PromptTag[];
  family: ModelFamily;
  /** The model's style: TAGS models get the tag-writing rules. */
  promptStyle: PromptStyle;
  /** The vocabulary's quality tags and the family preset's own, by tag key. */
  isQualityTag(key: string): boolean;
}

export interface LintRule {
  code: PromptWarningCode;
  /** Negative prompts list what to avoid: `multiple girls` or a dozen quality tags belong there. */
  readsNegativePrompt: boolean;
  check(prompt: LintedPrompt): PromptWarning[];
}
