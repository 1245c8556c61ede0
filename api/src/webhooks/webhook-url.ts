import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import { InvalidInputError } from '../errors.js';

/*
 * SSRF: in production a webhook may not reach the API's own network. Checked when a generation is
 * created and again before each delivery (a name may resolve elsewhere by then).
 */

const PRIVATE = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16],
  ['172.16.0.0', 12], ['192.168.0.0', 16], ['198.18.0.0', 15], ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const) PRIVATE.addSubnet(network, prefix, 'ipv4');
for (const [network, prefix] of [['::', 128], ['::1', 128], ['fc00::', 7], ['fe80::', 10], ['ff00::', 8]] as const) PRIVATE.addSubnet(network, prefix, 'ipv6');

const invalid = (message: string) => new InvalidInputError(message, [{ field: 'webhook.url', message }]);

function isPrivate(address: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return PRIVATE.check(mapped[1], 'ipv4');
  return PRIVATE.check(address, isIP(address) === 6 ? 'ipv6' : 'ipv4');
}

/** Throws InvalidInputError unless `url` is http(s) and (when `publicOnly`) every address it resolves to is public. */
export async function checkWebhookUrl(url: string, publicOnly: boolean): Promise<URL> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw invalid(`webhook.url "${url}" is not a URL.`);
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') throw invalid('webhook.url must be an http(s) URL.');
  if (!publicOnly) return parsed;
  const host = parsed.hostname.replace(/^\[|\]$/g, '');
  const addresses = isIP(host) ? [host] : await lookup(host, { all: true }).then((found) => found.map((entry) => entry.address), () => []);
  if (addresses.length === 0) throw invalid(`webhook.url: "${host}" does not resolve.`);
  if (addresses.some(isPrivate)) {
    throw invalid(`webhook.url: "${host}" is a loopback, private or link-local address, which webhooks may not reach.`);
  }
  return parsed;
}
