import dns from 'node:dns';
import { lookup } from 'node:dns/promises';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { Agent } from 'undici';
import { InvalidInputError } from '../errors.js';

/*
 * SSRF: in production a webhook may not reach the API's own network. Checked when a generation is
 * created, again before each delivery, and once more on the address each delivery's socket
 * connects to (webhookAgent): a name that resolved to a public address for the check may
 * resolve to a private one a moment later (DNS rebinding).
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

/** A socket `lookup` that resolves as usual but refuses a private address, whatever resolved before. */
const publicOnlyLookup: LookupFunction = (hostname, options, callback) => {
  dns.lookup(hostname, { ...options, all: true }, (error, addresses) => {
    if (error) return callback(error, '', 0);
    const privateOne = addresses.find(({ address }) => isPrivate(address));
    if (privateOne) {
      const refused = Object.assign(new Error(`webhook: "${hostname}" resolved to ${privateOne.address}, a loopback, private or link-local address, which webhooks may not reach.`), { code: 'EWEBHOOKPRIVATE' });
      return callback(refused, '', 0);
    }
    // net asks for every address (to try each family) or for one.
    if (options.all) return (callback as unknown as (error: null, addresses: dns.LookupAddress[]) => void)(null, addresses);
    callback(null, addresses[0].address, addresses[0].family);
  });
};

/** The HTTP agent webhook deliveries go through: with `publicOnly`, it connects to public addresses only. */
export function webhookAgent(publicOnly: boolean): Agent {
  return new Agent(publicOnly ? { connect: { lookup: publicOnlyLookup } } : {});
}
