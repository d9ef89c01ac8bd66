import type { ReactNode } from "react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { createMemoryRouter, RouterProvider } from "react-router";
import { createApi, type Run } from "../api/client";
import { ServicesContext, type Services } from "../app/services";
import { LOCAL_CONFIG } from "../auth/runtimeConfig";
import type { Session } from "../auth/session";
import { CRITERIA } from "./format";
import { ComparisonPanel } from "./ComparisonPanel";

const TASK = "22222222-2222-4222-8222-222222222222";
const A = "aaaaaaaa-0000-4000-8000-000000000001";
const B = "bbbbbbbb-0000-4000-8000-000000000002";

function figures(over: Record<string, unknown>) {
  return {
    succeeded: true, verify_passed: true, failing_tests: null, diff_lines: 4, files_changed: 1,
    cost_usd: 0.25, duration_seconds: 3, input_tokens: 1000, output_tokens: 20, ...over,
  };
}

const COMPARISON = {
  task_id: TASK,
  submitted_at: "2026-11-30T00:00:00Z",
  rule: ["diff_lines", "cost_usd"],
  runs: [
    { rank: 1, run_id: B, executor_type: "command", model: null, status: "succeeded", turns: 1, figures: figures({ diff_lines: 2 }) },
    { rank: 2, run_id: A, executor_type: "command", model: null, status: "failed", turns: 1, figures: figures({ succeeded: false, verify_passed: false, failing_tests: 3, cost_usd: null }) },
  ],
};

function runOf(id: string, template: string): Run {
  return { id, task_id: TASK, executor: { type: "command", model: null, model_profile_id: null, options: { template } } } as unknown as Run;
}

/** The panel on a memory router at `url`, its API answering with `answer` (and recording queries). */
function show(url: string, answer: (request: Request) => Response) {
  const seen: URL[] = [];
  const fetchStub = (request: Request) => {
    seen.push(new URL(request.url));
    return Promise.resolve(answer(request));
  };
  vi.stubGlobal("fetch", fetchStub);
  const session = { authorization: () => Promise.resolve("Bearer t") } as unknown as Session;
  const api = createApi({ baseUrl: "http://gateway.test", authorization: () => Promise.resolve("Bearer t"), onUnauthorized: () => undefined });
  const services: Services = { config: LOCAL_CONFIG, session, api, signedIn: true, setSignedIn: () => undefined };
  const client = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  const runs = [runOf(A, "chatty"), runOf(B, "append-note")];
  const router = createMemoryRouter(
    [{ path: "/tasks/:taskId", element: <ComparisonPanel taskId={TASK} runs={runs} /> }],
    { initialEntries: [url] },
  );
  const wrap = (node: ReactNode) => (
    <ServicesContext value={services}>
      <QueryClientProvider client={client}>{node}</QueryClientProvider>
    </ServicesContext>
  );
  render(wrap(<RouterProvider router={router} />));
  return { seen, router };
}

const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": status < 300 ? "application/json" : "application/problem+json" },
  });

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

describe("ComparisonPanel", () => {
  it("shows the runs in the API's order with every figure, the rule and the best marked", async () => {
    const { seen } = show(`/tasks/${TASK}?rule=diff_lines,cost_usd`, () => json(200, COMPARISON));
    const table = await screen.findByTestId("ranking");
    const rows = within(table).getAllByRole("row").slice(1);
    expect(rows.map((r) => r.getAttribute("data-run-id"))).toEqual([B, A]);
    expect(rows[0]?.getAttribute("data-best")).toBe("true");
    expect(rows[0]?.textContent).toContain("★ best");
    expect(rows[1]?.getAttribute("data-best")).toBe("false");
    expect(rows[0]?.textContent).toContain("Command · append-note");
    const cell = (row: number, name: string) => rows[row]?.querySelector(`[data-cell=${name}]`)?.textContent;
    expect(CRITERIA.map((c) => cell(1, c))).toEqual(["no", "no", "3", "4", "—", "3.0 s"]);
    expect(cell(0, "cost_usd")).toBe("$0.25");
    expect(cell(0, "tokens")).toBe("1,000 / 20");
    expect(screen.getByTestId("ranking-rule").textContent).toBe("Rule: smaller diff › lower cost");
    expect(within(rows[1] as HTMLElement).getByRole("link").getAttribute("href")).toBe(`/tasks/${TASK}/runs/${A}#diff`);
    // The rule goes to the server as the URL has it.
    expect(seen[0]?.searchParams.get("rule")).toBe("diff_lines,cost_usd");
  });

  it("shows a 400 for the rule as a clear message and offers the server's rule", async () => {
    const problem = { title: "Unprocessable", status: 400, detail: "rule must name distinct criteria of: run_succeeded, …" };
    const { seen, router } = show(`/tasks/${TASK}?rule=bogus`, (request) =>
      new URL(request.url).searchParams.has("rule") ? json(400, problem) : json(200, COMPARISON),
    );
    const alert = await screen.findByRole("alert");
    expect(alert.textContent).toContain("This ranking rule is not valid: rule must name distinct criteria of");
    expect(screen.queryByTestId("ranking")).toBeNull();
    fireEvent.click(within(alert).getByRole("button", { name: "Use the server's rule" }));
    await screen.findByTestId("ranking");
    expect(router.state.location.search).toBe("");
    expect(seen.at(-1)?.searchParams.has("rule")).toBe(false);
  });

  it("says there is nothing to rank on a 404, and moves a criterion up through the picker", async () => {
    show(`/tasks/${TASK}`, () => json(404, { title: "Not Found", status: 404, detail: "no such runs" }));
    expect(await screen.findByText("No runs to rank yet.")).toBeTruthy();
    expect(screen.queryByRole("alert")).toBeNull();
    cleanup();
    const { router } = show(`/tasks/${TASK}`, () => json(200, COMPARISON));
    await screen.findByTestId("ranking");
    // jsdom keeps what a <details> holds out of the accessibility tree: find the buttons by row.
    const up = (criterion: string) =>
      screen.getByTestId("rule-picker").querySelector(`[data-criterion=${criterion}] button`) as HTMLButtonElement;
    expect(up("diff_lines").textContent).toBe("Up smaller diff");
    expect(up("diff_lines").disabled).toBe(true);
    fireEvent.click(up("cost_usd"));
    await waitFor(() => {
      expect(router.state.location.search).toBe("?rule=cost_usd%2Cdiff_lines");
    });
  });
});
