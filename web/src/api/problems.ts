/** Errors of the public API: every non-2xx answer is an RFC 9457 problem+json. */

export interface Problem {
  type?: string;
  title?: string;
  status?: number;
  detail?: string;
  instance?: string;
  errors?: { field?: string; message?: string }[];
}

/** A failed API call: its status, the problem the server gave and, on 429, when to retry. */
export class ApiError extends Error {
  readonly status: number;
  readonly problem: Problem;
  readonly retryAfterSeconds: number | null;

  constructor(status: number, problem: Problem, retryAfterSeconds: number | null = null) {
    super(problem.detail ?? problem.title ?? `HTTP ${status}`);
    this.name = "ApiError";
    this.status = status;
    this.problem = problem;
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** The data of an openapi-fetch result, or an ApiError carrying its problem. */
export function unwrap<T>(result: { data?: T; error?: unknown; response: Response }): T {
  const { response } = result;
  if (!response.ok || result.error !== undefined) {
    throw new ApiError(response.status, asProblem(result.error), retryAfter(response));
  }
  return result.data as T;
}

function asProblem(error: unknown): Problem {
  if (error && typeof error === "object") return error;
  return typeof error === "string" && error ? { detail: error } : {};
}

function retryAfter(response: Response): number | null {
  const value = Number(response.headers.get("retry-after"));
  return Number.isFinite(value) && value > 0 ? value : null;
}

/** One line a person can read about a failure. */
export function describeError(error: unknown): string {
  if (error instanceof ApiError) {
    if (error.status === 401) return "Your session has ended: sign in again.";
    if (error.status === 403) return "Your role does not allow this.";
    if (error.status === 429) {
      const wait = error.retryAfterSeconds ?? 1;
      return `Too many requests: try again in ${wait} s.`;
    }
    const fields = (error.problem.errors ?? [])
      .map((e) => [e.field, e.message].filter(Boolean).join(": "))
      .filter(Boolean);
    return [error.message, ...fields].join(" — ");
  }
  return error instanceof Error ? error.message : "Something went wrong.";
}
