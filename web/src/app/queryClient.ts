/** The query cache of the app: what to retry, how long to wait, which failures to toast. */
import { MutationCache, QueryCache, QueryClient } from "@tanstack/react-query";
import { toast } from "sonner";
import { ApiError, describeError } from "../api/problems";

/** Retry what may pass later (429 after Retry-After, 5xx, network), never a refusal. */
export function shouldRetry(count: number, error: unknown): boolean {
  if (error instanceof ApiError) return (error.status === 429 || error.status >= 500) && count < 3;
  return count < 2;
}

export function retryDelay(count: number, error: unknown): number {
  if (error instanceof ApiError && error.retryAfterSeconds) return error.retryAfterSeconds * 1000;
  return Math.min(1000 * 2 ** count, 10_000);
}

export function reportError(error: unknown): void {
  // 401 sends the user to sign in (createApi's hook); everything else gets a toast.
  if (error instanceof ApiError && error.status === 401) return;
  toast.error(describeError(error), { id: describeError(error) });
}

export function makeQueryClient(): QueryClient {
  return new QueryClient({
    // A query or mutation marked `meta: { quiet: true }` shows its own errors.
    queryCache: new QueryCache({
      onError: (error, query) => {
        if (!query.meta?.quiet) reportError(error);
      },
    }),
    mutationCache: new MutationCache({
      onError: (error, _variables, _context, mutation) => {
        if (!mutation.meta?.quiet) reportError(error);
      },
    }),
    defaultOptions: { queries: { retry: shouldRetry, retryDelay, refetchOnWindowFocus: true } },
  });
}

