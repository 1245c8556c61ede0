import fc from 'fast-check';

/** Characters that exercise every path of the prompt grammar, weighted towards its syntax. */
const PROMPT_CHARACTERS = fc.constantFrom(...'ab c,,  ()()[]::1.2\\_\nB'.split(''), 'BREAK', 'score_9', '1girl', 'Masterpiece', '(x:1.5)', ':0.05)');

/** Prompt-shaped strings full of brackets, weights, escapes, BREAKs and commas. */
export const syntaxHeavyPrompt = (maxLength = 200) => fc.string({ unit: PROMPT_CHARACTERS, maxLength }).map((text) => text.slice(0, 10_000));

/** Any text at all, up to the 10,000 characters a prompt may have. */
export const anyPrompt = fc.oneof(fc.string({ maxLength: 10_000 }), fc.string({ unit: 'binary', maxLength: 2_000 }), syntaxHeavyPrompt(3_000));

/** Prompts at the length limit, where a slow path would show as a hang. */
export const longPrompt = fc.oneof(
  fc.string({ unit: PROMPT_CHARACTERS, minLength: 9_000, maxLength: 10_000 }).map((text) => text.slice(0, 10_000)),
  fc.string({ minLength: 9_000, maxLength: 10_000 }),
  fc.constantFrom('('.repeat(5_000) + ')'.repeat(5_000), '(a '.repeat(3_333), 'a\\'.repeat(3_333), ' '.repeat(10_000), 'score_9, '.repeat(1_111), '(x:1.2.3)'.repeat(1_111)),
);

/** Tags as people write them: plain, weighted, emphasised, with underscores or capitals, score tags. */
const WORDS = ['cat', 'long hair', 'blue_eyes', 'Smile', 'masterpiece', 'best quality', 'score_9', 'score_8_up', 'lowres', '1girl', 'outdoors'];
export const tagList = fc
  .array(
    fc.tuple(
      fc.constantFrom(...WORDS),
      fc.constantFrom('plain', 'round', 'square', 'weighted'),
      fc.double({ min: 0.5, max: 1.5, noNaN: true }).map((w) => Math.round(w * 10) / 10),
    ),
    { maxLength: 12 },
  )
  .chain((tags) =>
    fc.tuple(fc.constant(tags), fc.array(fc.constantFrom(', ', ',', ' , ', ' BREAK ', ',\n'), { minLength: tags.length, maxLength: tags.length })),
  )
  .map(([tags, separators]) =>
    tags
      .map(([word, form, weight], i) => {
        const written = form === 'plain' ? word : form === 'round' ? `(${word})` : form === 'square' ? `[${word}]` : `(${word}:${weight})`;
        return i === 0 ? written : separators[i] + written;
      })
      .join(''),
  );
