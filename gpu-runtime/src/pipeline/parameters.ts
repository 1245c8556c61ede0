/**
 * The infotext of Easel's PNGs: written and read by @easel/schema's infotext table (one
 * definition for both directions, shared with the API's parseParameters); here flattened into
 * the shape the pipeline and its readers use.
 */
import { formatInfotext, parseInfotext, type InfotextParameters, type ParsedInfotext } from '@easel/schema';

/** The settings that decided an image, as written into its PNG. */
export type ImageParameters = InfotextParameters;

/** A read infotext: the prompts, whatever settings it held, every raw pair, and what was not understood. */
export type ParsedParameters = Omit<ParsedInfotext, 'settings'> & ParsedInfotext['settings'];

export function formatParameters(params: ImageParameters): string {
  return formatInfotext(params);
}

/** Never throws. */
export function parseParameters(text: string): ParsedParameters {
  const { settings, ...rest } = parseInfotext(text);
  return { ...rest, ...settings };
}
