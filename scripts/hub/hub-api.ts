/**
 * What a revision of a Hub repository holds, through @huggingface/hub:
 *   modelInfo (expand=sha)            the commit the revision points at
 *   listFiles (tree, recursive)       the files of that commit, with sizes, git and LFS hashes
 * Any server that answers these the same way works (a mirror, a proxy: set HF_ENDPOINT).
 */
import { HubApiError, listFiles, modelInfo } from '@huggingface/hub';

export interface HubOptions {
  /** Default https://huggingface.co */
  endpoint: string;
  /** For gated and private repositories; sent as a Bearer token, never logged. */
  token?: string;
}

export interface HubFile {
  path: string;
  size: number;
  /**
   * The content's name in the Hugging Face cache (blobs/<etag>), as the Hub's ETag gives it:
   * the SHA-256 of an LFS file, the git blob hash of any other.
   */
  etag: string;
  /** An LFS file: `etag` is the SHA-256 of its content; otherwise the git blob SHA-1. */
  lfs: boolean;
}

export interface HubRepo {
  repo: string;
  /** The commit the revision pointed at: every file is downloaded from this one. */
  commit: string;
  files: HubFile[];
}

/** HF_ENDPOINT (default https://huggingface.co) and HF_TOKEN, as Hugging Face's own tools read them. */
export function hubFromEnvironment(env: NodeJS.ProcessEnv = process.env): HubOptions {
  return { endpoint: (env.HF_ENDPOINT || 'https://huggingface.co').replace(/\/+$/, ''), token: env.HF_TOKEN || undefined };
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

/** The arguments every @huggingface/hub call takes: where the Hub is, and the token. */
export function hubParams(options: HubOptions): { hubUrl: string; accessToken?: string } {
  if (options.token && !options.token.startsWith('hf_')) {
    throw new ModelFetchError('HF_TOKEN is not a Hugging Face access token (those start with "hf_"): make one at huggingface.co/settings/tokens');
  }
  return { hubUrl: options.endpoint, accessToken: options.token };
}

export async function listRevision(options: HubOptions, repo: string, revision: string): Promise<HubRepo> {
  const params = hubParams(options);
  try {
    const { sha: commit } = await modelInfo({ ...params, name: repo, revision, additionalFields: ['sha'] });
    if (!commit) throw new ModelFetchError(`${options.endpoint} did not say which commit ${repo}@${revision} is`);
    const files: HubFile[] = [];
    for await (const entry of listFiles({ ...params, repo, revision: commit, recursive: true })) {
      if (entry.type !== 'file') continue;
      const etag = entry.lfs?.oid ?? entry.oid;
      if (!etag) throw new ModelFetchError(`${options.endpoint} listed ${entry.path} of ${repo} without its hash`);
      files.push({ path: entry.path, size: entry.lfs?.size ?? entry.size, etag, lfs: entry.lfs !== undefined });
    }
    return { repo, commit, files };
  } catch (error) {
    throw hubError(error, options, repo, revision);
  }
}

/** A person's reading of what went wrong talking to the Hub (a refused token, a missing repository, no network). */
function hubError(error: unknown, options: HubOptions, repo: string, revision: string): Error {
  if (error instanceof ModelFetchError) return error;
  if (error instanceof HubApiError) {
    const what = `${repo}@${revision}`;
    const status = error.statusCode;
    if (status === 401 || status === 403) {
      return new ModelFetchError(
        options.token
          ? `the Hub refused HF_TOKEN for ${what} (HTTP ${status}): accept the model's terms on its page, or use a token that can read it`
          : `${what} is gated or private (HTTP ${status}): set HF_TOKEN to a Hugging Face access token that can read it`,
        { cause: error },
      );
    }
    if (status === 404) return new ModelFetchError(`no repository ${repo} with a revision "${revision}" on ${options.endpoint}`, { cause: error });
    return new ModelFetchError(`the Hub answered HTTP ${status} for ${what}`, { cause: error });
  }
  if (error instanceof TypeError && error.message === 'fetch failed') {
    const cause = (error as Error & { cause?: Error }).cause?.message ?? error.message;
    return new ModelFetchError(`cannot reach ${options.endpoint} (${cause})`, { cause: error });
  }
  return error as Error;
}
