import sharp from 'sharp';

/** The PNG text chunk where A1111 (and the GPU function) write a generation's settings. */
const PARAMETERS_KEYWORD = 'parameters';

/**
 * A1111's "infotext" of a finished image: the `parameters` text chunk of its PNG, read once when
 * the image is stored so that clients can show or copy it without downloading the file.
 * Undefined when the PNG carries none.
 */
export async function readInfotext(png: Buffer): Promise<string | undefined> {
  const { comments } = await sharp(png).metadata();
  return comments?.find((comment) => comment.keyword === PARAMETERS_KEYWORD)?.text;
}
