import { PromptWarningCode, warning } from '../../warnings.js';
import type { LintRule } from '../lint-rule.js';

export const loneBackslash: LintRule = {
  code: PromptWarningCode.LONE_BACKSLASH,
  readsNegativePrompt: true,
  check: ({ scan }) =>
    scan.problems.flatMap((problem) =>
      problem.kind === 'lone-backslash'
        ? warning(PromptWarningCode.LONE_BACKSLASH, 'A backslash only escapes ( ) [ ] and \\; this one escapes nothing and is dropped.', {
            start: problem.at,
            end: problem.at + 1,
            suggestion: 'Remove it, or write \\\\ for a literal backslash.',
          })
        : [],
    ),
};
