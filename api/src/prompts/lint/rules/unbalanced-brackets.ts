import type { SyntaxProblem } from '@easel/schema';
import { PromptWarningCode, warning, type PromptWarning } from '../../warnings.js';
import type { LintRule } from '../lint-rule.js';

const CLOSING = { '(': ')', '[': ']' } as const;
const OPENING = { ')': '(', ']': '[' } as const;

/** The parser never fails on brackets, but reads the slip as weights or text the user did not mean. */
export const unbalancedBrackets: LintRule = {
  code: PromptWarningCode.UNBALANCED_BRACKETS,
  readsNegativePrompt: true,
  check: ({ scan }) => scan.problems.flatMap((problem) => explain(problem) ?? []),
};

function explain(problem: SyntaxProblem): PromptWarning | undefined {
  const code = PromptWarningCode.UNBALANCED_BRACKETS;
  switch (problem.kind) {
    case 'unclosed': {
      const effect = problem.bracket === '(' ? 'raises everything after it ×1.1' : 'lowers everything after it ÷1.1';
      return warning(code, `This "${problem.bracket}" is never closed, so it ${effect}.`, {
        start: problem.at,
        end: problem.at + 1,
        suggestion: `Close it with "${CLOSING[problem.bracket]}" where the emphasis should end, or write "\\${problem.bracket}" for a literal bracket.`,
      });
    }
    case 'stray-close':
      return warning(code, `This "${problem.bracket}" closes nothing; the model reads it as text.`, {
        start: problem.at,
        end: problem.at + 1,
        suggestion: `Remove it, open it with "${OPENING[problem.bracket]}", or write "\\${problem.bracket}" for a literal bracket.`,
        replacement: '',
      });
    case 'crossed':
      return warning(code, `This "${problem.bracket}" closes its bracket while the one opened inside it is still open; the weights come out tangled.`, {
        start: problem.open,
        end: problem.at + 1,
        suggestion: 'Close the inner bracket first: (a [b] c), not (a [b) c].',
      });
    default:
      return undefined;
  }
}
