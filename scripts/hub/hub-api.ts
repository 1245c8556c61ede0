/**
 * The two calls of the Hugging Face Hub's HTTP API that fetching a model needs:
 *   GET {endpoint}/api/models/{repo}/revision/{revision}?blobs=true   the files, with sizes and LFS hashes
 *   GET {endpoint}/{repo}/resolve/{commit}/{path}                     one file (Range honoured)
 * Any server that answers these the same way works (a mirror, a proxy: set HF_ENDPOINT).
 */

export interface HubOptions {
  /** Default https://huggingface.co */
  endpoint: string;
  /** For gated and private repositories; sent as a Bearer token, never logged. */
  token?: string;
}

export interface HubFile {
  path: string;
  size?: number;
  /** LFS files only: the SHA-256 of the content. */
  sha256?: string;
}

export interface HubRepo {
  repo: string;
  /** The commit the revision pointed at: every file is downloaded from this one. */
  commit: string;
  files: HubFile[];
}

/** A problem fetching a model that the person running the command can act on; the CLI prints its message. */
export class ModelFetchError extends Error {
  override readonly name = 'ModelFetchError';
}

const REPO_SPEC = /^([A-Za-z0-9][\w.-]*\/[\w.-]+)(?:@(\S+))?$/;

/** `owner/name[@revision]`, revision `main` by default. */
export function parseRepoSpec(spec: string): { repo: string; revision: string } {
  const match = REPO_SPEC.exec(spec.trim());
  if (!match) throw new ModelFetchError(`"${spec}" is not a Hugging Face repository; write it as owner/name or owner/name@revision`);
  return { repo: match[1], revision: match[2] ?? 'main' };
}

/** A catalog slug from the repository's name: "stabilityai/Stable-Diffusion-XL-base-1.0" -> "stable-diffusion-xl-base-1.0". */
export function slugFromRepo(repo: string): string {
  return repo
    .split('/')[1]
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, (run) => (run.length === 1 && '-_.'.includes(run) ? run : '-'))
    .replace(/^[-_.]+|[-_.]+$/g, '');
}

export function authHeaders(options: HubOptions): Record<string, string> {
  return options.token ? { authorization: `Bearer ${options.token}` } : {};
}

export function fileUrl(options: HubOptions, repo: string, commit: string, file: string): string {
  return `${options.endpoint}/${repo}/resolve/${encodeURIComponent(commit)}/${file.split('/').map(encodeURIComponent).join('/')}`;
}

interface Sibling {
  rfilename: string;
  size?: number;
  lfs?: { sha256?: string; size?: number };
}

export async function listRepoFiles(options: HubOptions, repo: string, revision: string): Promise<HubRepo> {
  const url = `${options.endpoint}/api/models/${repo}/revision/${encodeURIComponent(revision)}?blobs=true`;
  let response: Response;
  try {
    response = await fetch(url, { headers: { accept: 'application/json', ...authHeaders(options) } });
  } catch (error) {
    const cause = (error as Error & { cause?: Error }).cause?.message ?? (error as Error).message;
    throw new ModelFetchError(`cannot reach ${options.endpoint} (${cause})`, { cause: error });
  }
  if (!response.ok) throw new ModelFetchError(listingFailure(response.status, repo, revision, options));
  const info = (await response.json()) as { sha?: string; siblings?: Sibling[] };
  if (!info.sha || !Array.isArray(info.siblings)) throw new ModelFetchError(`${url} did not answer with a model's file list`);
  return {
    repo,
    commit: info.sha,
    files: info.siblings.map((sibling) => ({
      path: sibling.rfilename,
      size: sibling.lfs?.size ?? sibling.size,
      sha256: sibling.lfs?.sha256,
    })),
  };
}

function listingFailure(status: number, repo: string, revision: string, options: HubOptions): string {
  if (status === 401 || status === 403) {
    return options.token
      ? `the Hub refused HF_TOKEN for ${repo} (HTTP ${status}): accept the model's terms on its page, or use a token that can read it`
      : `${repo} is gated or private (HTTP ${status}): set HF_TOKEN to a Hugging Face access token that can read it`;
  }
  if (status === 404) return `no repository ${repo} with a revision "${revision}" on ${options.endpoint}`;
  return `the Hub answered HTTP ${status} for ${repo}@${revision}`;
}
