/**
 * The examples from the docstring of A1111's parse_prompt_attention, with its exact floats: each
 * prompt and the [text, weight] runs it parses into. The parser's tests and the API's prompt
 * analysis both pin them.
 */
export const A1111_ATTENTION_EXAMPLES: Array<[string, Array<[string, number]>]> = [
  ['normal text', [['normal text', 1.0]]],
  ['an (important) word', [['an ', 1.0], ['important', 1.1], [' word', 1.0]]],
  ['(unbalanced', [['unbalanced', 1.1]]],
  ['\\(literal\\]', [['(literal]', 1.0]]],
  ['(unnecessary)(parens)', [['unnecessaryparens', 1.1]]],
  [
    'a (((house:1.3)) [on] a (hill:0.5), sun, (((sky))).',
    [
      ['a ', 1.0],
      ['house', 1.5730000000000004],
      [' ', 1.1],
      ['on', 1.0],
      [' a ', 1.1],
      ['hill', 0.55],
      [', sun, ', 1.1],
      ['sky', 1.4641000000000006],
      ['.', 1.1],
    ],
  ],
];
