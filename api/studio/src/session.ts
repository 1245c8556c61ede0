/**
 * The API key, kept in this browser until the user signs out. The start banner's link carries it
 * in the URL fragment (`/#key=easel_…`), which browsers never send to the server; it is moved to
 * storage and wiped from the address bar at once.
 */
const STORAGE_KEY = 'easel.apiKey';

export function takeKeyFromFragment(): string | undefined {
  const key = new URLSearchParams(location.hash.slice(1)).get('key')?.trim();
  if (!key) return undefined;
  history.replaceState(null, '', location.pathname + location.search);
  return key;
}

export const storedKey = (): string | undefined => localStorage.getItem(STORAGE_KEY) ?? undefined;
export const storeKey = (key: string) => localStorage.setItem(STORAGE_KEY, key);
export const forgetKey = () => localStorage.removeItem(STORAGE_KEY);
