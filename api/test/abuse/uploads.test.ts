import { once } from 'node:events';
import { crc32, createDeflate } from 'node:zlib';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { MAX_BASE_IMAGE_PIXELS } from '@easel/schema';
import { useTestServer } from '../support/server.js';

// Defect 6 of issue 9: an 8000×8000 RGBA PNG of 249 KB was decoded in full (about 240 MB each).
const server = useTestServer({ GPU_CONCURRENCY: '0' });

/** A valid, all-black RGBA PNG, compressed as it streams: small on the wire, huge once decoded. */
async function blackPng(width: number, height: number): Promise<Buffer> {
  const deflate = createDeflate({ level: 9 });
  const parts: Buffer[] = [];
  deflate.on('data', (part: Buffer) => parts.push(part));
  const row = Buffer.alloc(1 + width * 4);
  for (let y = 0; y < height; y++) if (!deflate.write(row)) await once(deflate, 'drain');
  deflate.end();
  await once(deflate, 'end');
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([length, body, crc]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 6, 0, 0, 0], 8); // 8 bits, RGBA, deflate, no filter method variants, no interlace
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', header), chunk('IDAT', Buffer.concat(parts)), chunk('IEND', Buffer.alloc(0))]);
}

describe('defect 6: bounded uploads', () => {
  it('refuses an image with more pixels than the cap from its header, saying the cap', async () => {
    const { key } = await server().createUser('bomber');
    const bomb = await blackPng(8000, 8000);
    expect(bomb.length).toBeLessThan(300 * 1024);
    // It is a real image: sharp reads its header as the issue's.
    expect(await sharp(bomb, { limitInputPixels: false }).metadata()).toMatchObject({ width: 8000, height: 8000, channels: 4 });

    const response = await fetch(`${server().url}/uploads`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'image/png' }, body: bomb });
    expect(response.status).toBe(400);
    const { error } = (await response.json()) as { error: { code: string; message: string } };
    expect(error.code).toBe('BAD_USER_INPUT');
    expect(error.message).toContain('8000×8000');
    expect(error.message).toContain(MAX_BASE_IMAGE_PIXELS.toLocaleString('en'));
    // The cap: twice the largest output size (2048) each way.
    expect(MAX_BASE_IMAGE_PIXELS).toBe(4096 * 4096);
  });

  it('still takes an image at the cap', async () => {
    const { key } = await server().createUser('painter');
    const png = await sharp({ create: { width: 4096, height: 4096, channels: 3, background: '#336699' } }).png().toBuffer();
    const response = await fetch(`${server().url}/uploads`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'image/png' }, body: png });
    expect(response.status).toBe(201);
  });
});
