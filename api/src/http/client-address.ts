import type { IncomingMessage } from 'node:http';
import proxyaddr from 'proxy-addr';
import type { Config } from '../config.js';

/** Whether the hop at `address`, `hop` steps from the API, may say who sent the request (X-Forwarded-For). */
export type ProxyTrust = (address: string, hop: number) => boolean;

/**
 * TRUST_PROXY as Express reads it: no proxy trusted (the socket's address is the client), a number
 * of hops (the load balancers in front), or the addresses and subnets of trusted proxies.
 */
export function proxyTrust(trustProxy: Config['trustProxy']): ProxyTrust {
  if (typeof trustProxy === 'boolean') return () => trustProxy;
  if (typeof trustProxy === 'number') return (_address, hop) => hop < trustProxy;
  return proxyaddr.compile(trustProxy);
}

/**
 * The client's address, for per-address rate limits: the socket's, or the one the trusted proxies
 * in front report. The same for HTTP requests and WebSocket upgrades.
 */
export function clientAddress(request: IncomingMessage, trust: ProxyTrust): string {
  return proxyaddr(request, trust) ?? 'unknown';
}
