import express, { Router, type RequestHandler, type Response } from 'express';
import multer from 'multer';
import pLimit from 'p-limit';
import sharp from 'sharp';
import { MAX_BASE_IMAGE_PIXELS } from '@easel/schema';
import { storeUpload } from '../generations/images/image-store.js';
import type { Services } from '../services.js';
import { rateLimit } from './rate-limit.js';
import { requireUser, sendError, type UserLocals } from './require-user.js';

export const UPLOADS_PATH = '/uploads';

/** Larger than any base image a model needs (a 2048 px PNG is a few MB), small enough to hold in memory. */
export const MAX_UPLOAD_BYTES = 10 * 1024 * 1024;

/** Formats the GPU function's sharp reads as a base image. */
const ACCEPTED_FORMATS = ['png', 'jpeg', 'webp'];

/** Full decodes at once: each holds up to MAX_BASE_IMAGE_PIXELS × 4 bytes (67 MB); more wait their turn. */
const DECODES_AT_ONCE = 2;
const decodeSlot = pLimit(DECODES_AT_ONCE);

/** Room for the multipart boundaries and headers around the file. */
const MULTIPART_OVERHEAD_BYTES = 64 * 1024;

export interface UploadAnswer {
  /** Pass it to generateImage as `baseImageId`. */
  id: string;
  width: number;
  height: number;
  format: string;
  bytes: number;
}

/**
 * `POST /uploads`: an img2img base image, as a multipart form field `file` or as the raw body
 * (`Content-Type: image/png`, `image/jpeg`, `image/webp`). Needs the API key. Answers 201 with
 * `{ id, width, height, format, bytes }`; 413 past MAX_UPLOAD_BYTES, 400 for bytes that are not a
 * whole image, 401 without a key, always with `{ error: { code, message } }`.
 */
export function uploadRoutes(services: Pick<Services, 'accounts' | 'rateLimits' | 'clientAddress'>, maxBytes = MAX_UPLOAD_BYTES): Router {
  const router = Router();
  const perUser = rateLimit(services.rateLimits, 'uploads', (_req, res) => (res.locals as UserLocals).user.id);
  router.post(UPLOADS_PATH, requireUser(services), perUser, readImageBody(maxBytes), async (req, res) => {
    const bytes = req.file?.buffer ?? (Buffer.isBuffer(req.body) ? req.body : undefined);
    if (!bytes?.length) {
      sendError(res, 400, 'BAD_USER_INPUT', 'Send the image as the multipart field "file", or as the body with Content-Type image/png, image/jpeg or image/webp.');
      return;
    }
    const image = await inspectImage(bytes);
    if ('problem' in image) {
      sendError(res, 400, 'BAD_USER_INPUT', image.problem);
      return;
    }
    const { user } = res.locals as UserLocals;
    const id = (await storeUpload(user.id, bytes, image)).toHexString();
    res.status(201).location(`${UPLOADS_PATH}/${id}`).json({ id, ...image, bytes: bytes.length } satisfies UploadAnswer);
  });
  return router;
}

/** Parses the body by its type, turning the parsers' errors into answers a person understands. */
function readImageBody(maxBytes: number): RequestHandler {
  const multipart = multer({ storage: multer.memoryStorage(), limits: { fileSize: maxBytes, files: 1, fields: 10 } }).single('file');
  const raw = express.raw({ type: () => true, limit: maxBytes });
  const tooLarge = (res: Response) =>
    sendError(res, 413, 'PAYLOAD_TOO_LARGE', `The image is larger than ${maxBytes / (1024 * 1024)} MB; send a smaller one.`);

  return (req, res, next) => {
    const type = req.headers['content-type'] ?? '';
    const isMultipart = /^multipart\/form-data/i.test(type);
    if (!isMultipart && !/^(image\/|application\/octet-stream)/i.test(type)) {
      sendError(res, 415, 'UNSUPPORTED_MEDIA_TYPE', `Send multipart/form-data with a "file" field, or an image/* body (got "${type || 'no Content-Type'}").`);
      return;
    }
    // Refused on its declared size, before a byte of it is read.
    const declared = Number(req.headers['content-length']);
    if (declared > maxBytes + (isMultipart ? MULTIPART_OVERHEAD_BYTES : 0)) {
      tooLarge(res);
      return;
    }
    (isMultipart ? multipart : raw)(req, res, (error?: unknown) => {
      if (!error) return next();
      if (isTooLarge(error)) return tooLarge(res);
      const message =
        error instanceof multer.MulterError
          ? `${error.message} (send one image in the field "file")`
          : `The request body could not be read (${(error as Error).message}).`;
      sendError(res, 400, 'BAD_USER_INPUT', message);
    });
  };
}

function isTooLarge(error: unknown): boolean {
  if (error instanceof multer.MulterError) return error.code === 'LIMIT_FILE_SIZE';
  return (error as { type?: string }).type === 'entity.too.large';
}

/**
 * Reads the size from the header and refuses too many pixels there (a small PNG can hold a huge
 * image); then decodes every pixel, a few uploads at a time, so that a truncated or corrupt file
 * is refused here, with a clear answer, rather than failing inside the GPU function later.
 */
async function inspectImage(bytes: Buffer): Promise<{ format: string; width: number; height: number } | { problem: string }> {
  try {
    // The header only: nothing is decoded yet, so the size can be read (and named) whatever it is.
    const { format, width, height } = await sharp(bytes, { limitInputPixels: false }).metadata();
    if (!ACCEPTED_FORMATS.includes(format)) {
      return { problem: `A ${format} image cannot be a base image; send PNG, JPEG or WebP.` };
    }
    if (width * height > MAX_BASE_IMAGE_PIXELS) return { problem: tooManyPixels(`${width}×${height}`) };
    await decodeSlot(() => sharp(bytes, { limitInputPixels: MAX_BASE_IMAGE_PIXELS, failOn: 'truncated' }).stats());
    return { format, width, height };
  } catch (error) {
    const reason = (error as Error).message;
    if (/pixel limit/i.test(reason)) return { problem: tooManyPixels('This image') };
    return { problem: `These bytes are not a readable PNG, JPEG or WebP image (${reason}).` };
  }
}

const tooManyPixels = (what: string) =>
  `${what} is more than the ${MAX_BASE_IMAGE_PIXELS.toLocaleString('en')} pixels a base image may have (4096×4096, twice the largest output size each way); send a smaller one.`;
