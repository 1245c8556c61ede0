import { InvalidInputError } from '../errors.js';

/*
 * What a prompt may contain. Control characters other than newline and tab are removed (a pasted
 * NUL or escape code means nothing to a text encoder); a lone surrogate (half of an emoji, from a
 * client that cut a string in two) is refused, since any repair would change the prompt silently.
 */

/** C0 controls but tab and newline, DEL, and the C1 controls. */
const CONTROL = /[\u0000-\u0008\u000B-\u001F\u007F-\u009F]/g;

/** Characters that show nothing: zero-width spaces and joiners, word joiner, BOM, soft hyphen, bidi marks. */
const INVISIBLE = /[\u00AD\u180E\u200B-\u200F\u202A-\u202E\u2060-\u2064\u2066-\u2069\uFEFF]/g;

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** The text with control characters removed; throws InvalidInputError for a lone surrogate. */
export function cleanPromptText(field: string, text: string): string {
  const lone = LONE_SURROGATE.exec(text);
  if (lone) {
    const unit = lone[0].charCodeAt(0).toString(16).toUpperCase();
    const message = `${field} has a lone surrogate (U+${unit}) at offset ${lone.index}: half of a character such as an emoji; send valid Unicode text.`;
    throw new InvalidInputError(message, [{ field, message }]);
  }
  return text.replace(CONTROL, '');
}

/** True when nothing is left once whitespace and invisible characters are removed. */
export function isBlankPrompt(text: string): boolean {
  return text.replace(INVISIBLE, '').trim() === '';
}

/** A prompt to generate from: cleaned, and refused when there is nothing to draw. */
export function requirePromptText(field: string, text: string): string {
  const cleaned = cleanPromptText(field, text);
  if (isBlankPrompt(cleaned)) {
    const message = `${field} is empty once whitespace, control and invisible characters are removed; describe what to draw.`;
    throw new InvalidInputError(message, [{ field, message }]);
  }
  return cleaned;
}
