import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Callback signatures, in the shape Stripe's webhooks made familiar:
 * `X-Easel-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
 * Signing the timestamp with the body lets the receiver refuse an old request replayed later.
 */
export const SIGNATURE_HEADER = 'x-easel-signature';

/** How far a signature's timestamp may stray from the receiver's clock. */
export const SIGNATURE_TOLERANCE_SECONDS = 300;

const digest = (secret: string, timestamp: number, body: string | Buffer) =>
  createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest();

export function signBody(secret: string, body: string | Buffer, now = Date.now()): string {
  const timestamp = Math.floor(now / 1000);
  return `t=${timestamp},v1=${digest(secret, timestamp, body).toString('hex')}`;
}

export type SignatureCheck = { ok: true } | { ok: false; reason: 'MALFORMED' | 'EXPIRED' | 'MISMATCH' };

/**
 * What can be told of a signature header without the body: whether it is well formed and fresh.
 * A receiver checks this before reading a body it may not need.
 */
export function checkSignatureHeader(header: string | undefined, now = Date.now()): { ok: true; timestamp: number; given: string } | Extract<SignatureCheck, { ok: false }> {
  const fields = new Map(
    (header ?? '').split(',').map((part) => {
      const at = part.indexOf('=');
      return [part.slice(0, at).trim(), part.slice(at + 1).trim()] as const;
    }),
  );
  const timestamp = Number(fields.get('t'));
  const given = fields.get('v1') ?? '';
  if (!Number.isInteger(timestamp) || !/^[0-9a-f]{64}$/.test(given)) return { ok: false, reason: 'MALFORMED' };
  if (Math.abs(now / 1000 - timestamp) > SIGNATURE_TOLERANCE_SECONDS) return { ok: false, reason: 'EXPIRED' };
  return { ok: true, timestamp, given };
}

export function verifySignature(
  secret: string,
  body: string | Buffer,
  header: string | undefined,
  now = Date.now(),
): SignatureCheck {
  const checked = checkSignatureHeader(header, now);
  if (!checked.ok) return checked;
  const { timestamp, given } = checked;
  const expected = digest(secret, timestamp, body);
  return timingSafeEqual(expected, Buffer.from(given, 'hex')) ? { ok: true } : { ok: false, reason: 'MISMATCH' };
}
