import fc from 'fast-check';

/** Strings made of the prompt syntax's own pieces, where the interesting cases are. */
export const promptLike = fc.string({
  unit: fc.constantFrom('(', ')', '[', ']', '\\', ':', '1', '.5', '-', ' ', 'a', 'é', ',', 'BREAK', '\n'),
  maxLength: 60,
});
