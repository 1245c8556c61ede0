/**
 * A LoRA that cannot be applied: the file is missing, pickled, malformed, or made for another
 * model. The handler reports it as LORA_INVALID with this message, which names the file.
 */
export class LoraFileError extends Error {
  override readonly name = 'LoraFileError';
  readonly code = 'LORA_INVALID';
}
