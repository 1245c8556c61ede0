import { Router, type NextFunction, type Request, type Response } from 'express';
import type { Services } from '../services.js';
import { requireUser, sendError, type UserLocals } from './require-user.js';
import { findImage, openImage, type ImageBucket, type StoredImageFile } from '../generations/images/image-store.js';
import { UPLOADS_PATH } from './uploads.js';

export const IMAGES_PATH = '/images';

/**
 * `GET /images/:id`, a generated PNG, and `GET /uploads/:id`, an uploaded base image, to their
 * owner only (Bearer key); anyone else gets the same 404 as for an id that does not exist. Both
 * are also served on a signed link (`?expires=…&token=…`, see ImageLinks), for `<img>` tags,
 * which cannot send a key. (The GPU function fetches base images through the signed callback
 * route instead.)
 */
export function imageRoutes(services: Pick<Services, 'accounts' | 'imageLinks' | 'rateLimits' | 'clientAddress'>): Router {
  const router = Router();
  const signedImage = (bucket: ImageBucket) =>
    async function serveSignedImage(req: Request<{ id: string }>, res: Response, next: NextFunction) {
      if (req.query.token === undefined) return next();
      if (!services.imageLinks.verify(req.params.id, req.query.expires, req.query.token, bucket)) {
        return sendError(res, 403, 'FORBIDDEN', 'This image link has expired or is not valid; read the generation again for a fresh one.');
      }
      const file = await findImage(bucket, req.params.id);
      if (!file) return notFound(res);
      serve(res, file);
    };
  router.get(`${IMAGES_PATH}/:id`, signedImage('images'));
  router.get(`${UPLOADS_PATH}/:id`, signedImage('uploads'));
  const ownImage = (bucket: ImageBucket) =>
    async function serveOwnImage(req: { params: { id: string } }, res: Response) {
      const { user } = res.locals as UserLocals;
      const file = await findImage(bucket, req.params.id, user.id);
      if (!file) return notFound(res);
      serve(res, file);
    };
  router.get(`${IMAGES_PATH}/:id`, requireUser(services), ownImage('images'));
  router.get(`${UPLOADS_PATH}/:id`, requireUser(services), ownImage('uploads'));

  return router;
}

function serve(res: Response, file: StoredImageFile): void {
  res.setHeader('content-type', file.metadata.contentType);
  res.setHeader('content-length', String(file.length));
  // An id always names the same bytes; only the owner may see them, so no shared caches.
  res.setHeader('cache-control', 'private, max-age=31536000, immutable');
  const stream = openImage(file);
  stream.once('error', () => res.destroy());
  stream.pipe(res);
}

function notFound(res: Response): void {
  sendError(res, 404, 'NOT_FOUND', 'No such image among yours.');
}
