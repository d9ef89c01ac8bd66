// @vitest-environment node
import { describe, expect, it, vi } from "vitest";
import { createApi } from "./client";
import { ApiError, describeError, unwrap } from "./problems";
import { retryDelay, shouldRetry } from "../app/queryClient";

function answering(status: number, body: unknown, headers: Record<string, string> = {}) {
  const seen: Request[] = [];
  const fetchImpl = (input: Request) => {
    seen.push(input);
    return Promise.resolve(
      new Response(body === null ? null : JSON.stringify(body), {
        status,
        headers: { "content-type": status < 300 ? "application/json" : "application/problem+json", ...headers },
      }),
    );
  };
  return { fetchImpl, seen };
}

function api(fetchImpl: (input: Request) => Promise<Response>, token: string | null, onUnauthorized = vi.fn()) {
  const client = createApi({
    baseUrl: "http://gateway.test",
    authorization: () => Promise.resolve(token ? `Bearer ${token}` : null),
    onUnauthorized,
  });
  return { client, onUnauthorized, call: () => client.GET("/v1/me", { fetch: fetchImpl }) };
}

describe("API client", () => {
  it("sends the session's bearer token", async () => {
    const { fetchImpl, seen } = answering(200, { subject: "s", username: "ada", issuer: "i", role: "viewer" });
    const me = unwrap(await api(fetchImpl, "tok").call());
    expect(me.username).toBe("ada");
    expect(seen[0]?.headers.get("authorization")).toBe("Bearer tok");
  });

  it("ends the session on a 401 to an authenticated call", async () => {
    const { fetchImpl } = answering(401, { title: "Unauthorized", status: 401, detail: "token expired" });
    const { call, onUnauthorized } = api(fetchImpl, "expired");
    const result = await call();
    expect(onUnauthorized).toHaveBeenCalledOnce();
    expect(() => unwrap(result)).toThrow(ApiError);
  });

  it("does not end a session nobody had (a 401 without a token)", async () => {
    const { fetchImpl } = answering(401, { title: "Unauthorized", status: 401 });
    const { call, onUnauthorized } = api(fetchImpl, null);
    await call();
    expect(onUnauthorized).not.toHaveBeenCalled();
  });

  it("turns a 429 into an error that knows when to retry", async () => {
    const { fetchImpl } = answering(429, { title: "Too Many Requests", status: 429 }, { "retry-after": "7" });
    let caught: unknown;
    try {
      unwrap(await api(fetchImpl, "tok").call());
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(ApiError);
    expect((caught as ApiError).retryAfterSeconds).toBe(7);
    expect(describeError(caught)).toBe("Too many requests: try again in 7 s.");
    expect(shouldRetry(0, caught)).toBe(true);
    expect(retryDelay(0, caught)).toBe(7000);
  });

  it("never retries a refusal, and says what a 403 means", () => {
    const forbidden = new ApiError(403, { title: "Forbidden", detail: "needs developer" });
    expect(shouldRetry(0, forbidden)).toBe(false);
    expect(describeError(forbidden)).toBe("Your role does not allow this.");
    const invalid = new ApiError(422, { detail: "invalid body", errors: [{ field: "title", message: "too long" }] });
    expect(shouldRetry(0, invalid)).toBe(false);
    expect(describeError(invalid)).toBe("invalid body — title: too long");
    expect(shouldRetry(0, new ApiError(503, {}))).toBe(true);
    expect(shouldRetry(3, new ApiError(503, {}))).toBe(false);
  });
});
