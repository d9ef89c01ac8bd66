/**
 * The browser flow against the real platform `tests/e2e/test_web_ui.py` starts:
 * every step shares one signed-in page, takes a screenshot and runs axe on what it shows.
 */
import { createHmac } from "node:crypto";
import { expect, test, type APIRequestContext, type Browser, type Locator, type Page } from "@playwright/test";
import AxeBuilder from "@axe-core/playwright";

const env = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set (tests/e2e/test_web_ui.py sets it)`);
  return value;
};
const WEB_URL = env("WEB_URL");
const ADMIN_PASSWORD = env("ADMIN_PASSWORD");
const REPO_URL = env("REPO_URL");
const WEBHOOK_SECRET = env("WEBHOOK_SECRET");
const GITHUB_URL = env("GITHUB_URL");
const VIEWER = { username: process.env.VIEWER_NAME ?? "vera", password: "vera-reads-everything" };
const INSTRUCTION = "600"; // chatty prints 600 lines; sleep sleeps 600 s; append-note writes it

test.describe.configure({ mode: "serial" });

let page: Page;
let taskUrl = "";
let step = 0;

async function shot(name: string, target: Page = page): Promise<void> {
  step += 1;
  const file = test.info().outputPath(`${String(step).padStart(2, "0")}-${name}.png`);
  await target.screenshot({ path: file, fullPage: true });
}

/** No serious or critical axe violation on what the page shows once it has settled. */
async function axe(target: Page = page): Promise<void> {
  // A toast fading in is half transparent: judge the colours it comes to rest at.
  await target.waitForFunction(() =>
    document.getAnimations().every((animation) => animation.playState !== "running"),
  );
  const result = await new AxeBuilder({ page: target }).analyze();
  const serious = result.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id}: ${v.help} — ${v.nodes.map((n) => n.target.join(" ")).join(" | ")}`);
  expect(serious, `axe on ${target.url()}`).toEqual([]);
}

async function signIn(target: Page, username: string, password: string): Promise<void> {
  await target.goto("/");
  await expect(target.getByRole("heading", { name: "Sign in to dursor" })).toBeVisible();
  await target.getByLabel("Username").fill(username);
  await target.getByLabel("Password").fill(password);
  await target.getByRole("button", { name: "Sign in" }).click();
  await expect(target.getByRole("heading", { name: "Board" })).toBeVisible();
}

async function token(request: APIRequestContext, username: string, password: string): Promise<string> {
  const answer = await request.post(`${WEB_URL}/v1/auth/token`, { data: { username, password } });
  expect(answer.status()).toBe(200);
  return ((await answer.json()) as { access_token: string }).access_token;
}

async function apiGet<T>(request: APIRequestContext, path: string): Promise<T> {
  const bearer = await token(request, "admin", ADMIN_PASSWORD);
  const answer = await request.get(`${WEB_URL}${path}`, { headers: { authorization: `Bearer ${bearer}` } });
  expect(answer.status(), path).toBe(200);
  return (await answer.json()) as T;
}

function column(label: string): Locator {
  return page.locator("article[data-run-id]").filter({ has: page.getByRole("heading", { name: label }) });
}

async function runId(label: string): Promise<string> {
  return (await column(label).getAttribute("data-run-id")) ?? "";
}

async function statusOf(label: string): Promise<string | null> {
  return column(label).getByTestId("run-status").locator("[data-status]").getAttribute("data-status");
}

/** What a run's column shows: the seq of every event, and every log line, in order. */
async function shown(label: string): Promise<{ seqs: number[]; lines: string[] }> {
  const log = column(label).getByRole("log");
  const seqs = (await log.locator("[data-seq]").evaluateAll((nodes) => nodes.map((n) => n.getAttribute("data-seq"))))
    .map(Number);
  const lines = await log.locator("[data-type=log] div").allTextContents();
  return { seqs, lines };
}

interface LoggedEvent {
  seq: number;
  type: string;
  data: { lines?: string[] };
}

/** The run's whole event log from the API (`GET /v1/runs/{id}/events`, every page). */
async function logged(request: APIRequestContext, id: string): Promise<{ seqs: number[]; lines: string[] }> {
  const events: LoggedEvent[] = [];
  for (;;) {
    const after = events.at(-1)?.seq ?? 0;
    const page = await apiGet<LoggedEvent[]>(request, `/v1/runs/${id}/events?after=${after}&limit=1000`);
    events.push(...page);
    if (page.length < 1000) break;
  }
  return {
    seqs: events.map((e) => e.seq),
    lines: events.filter((e) => e.type === "log").flatMap((e) => e.data.lines ?? []),
  };
}

async function webhook(request: APIRequestContext, sha: string, conclusion: string | null): Promise<void> {
  // The GitHub stand-in answers the CI poller the same thing the webhook says.
  const check = conclusion
    ? { name: "ci", status: "completed", conclusion }
    : { name: "ci", status: "in_progress" };
  await request.post(`${GITHUB_URL}/_control/ci`, { data: { sha, check_runs: [check] } });
  const body = JSON.stringify({
    action: conclusion ? "completed" : "requested",
    check_suite: { head_sha: sha, status: check.status, conclusion },
  });
  const signature = createHmac("sha256", WEBHOOK_SECRET).update(body).digest("hex");
  const answer = await request.post(`${WEB_URL}/v1/github/webhook`, {
    data: body,
    headers: {
      "content-type": "application/json",
      "x-github-event": "check_suite",
      "x-github-delivery": `web-e2e-${Date.now()}`,
      "x-hub-signature-256": `sha256=${signature}`,
    },
  });
  expect(answer.status()).toBe(202);
}

/** Milliseconds from the page's navigation start to the first stream frame it rendered. */
async function firstFrameMs(target: Page): Promise<number> {
  const handle = await target.waitForFunction(() => {
    const mark = performance.getEntriesByName("dursor:first-frame")[0];
    return mark ? mark.startTime : null;
  });
  return Math.round((await handle.jsonValue()) ?? NaN);
}

/** A fresh browser profile (own storage) on the web server; axe needs one per context. */
async function newPage(browser: Browser): Promise<Page> {
  const context = await browser.newContext({ baseURL: WEB_URL, viewport: { width: 1280, height: 900 } });
  return context.newPage();
}

test.beforeAll(async ({ browser }: { browser: Browser }) => {
  page = await newPage(browser);
});

test.afterAll(async () => {
  await page.context().close();
});

test("sign in with the local issuer's password form", async () => {
  await page.goto("/");
  await expect(page).toHaveURL(/\/sign-in\?next=/);
  await axe();
  await shot("sign-in");
  await page.getByLabel("Username").fill("admin");
  await page.getByLabel("Password").fill("not the password");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("alert")).toHaveText("Wrong username or password.");
  await signIn(page, "admin", ADMIN_PASSWORD);
  await expect(page.getByTestId("whoami")).toHaveText("admin (admin)");
  await axe();
  await shot("board-empty");
});

test("an Admin adds a Viewer in Settings", async () => {
  await page.getByRole("link", { name: "Settings" }).click();
  const form = page.getByRole("form", { name: "New user" });
  await form.getByLabel("Username").fill(VIEWER.username);
  await form.getByLabel(/Password/).fill(VIEWER.password);
  await form.getByLabel("Role").selectOption("viewer");
  await form.getByRole("button", { name: "Add user" }).click();
  await expect(page.getByLabel(`Role of ${VIEWER.username}`)).toHaveValue("viewer");
  await axe();
  await shot("settings");
});

test("create a task with three command runs (Ctrl+Enter submits)", async () => {
  await page.getByRole("link", { name: "New task" }).first().click();
  await page.getByRole("button", { name: "Add…" }).click();
  await page.getByLabel("Repository URL").fill(REPO_URL);
  await page.getByRole("button", { name: "Add repository" }).click();
  await expect(page.getByLabel("Repository", { exact: true })).not.toHaveValue("");
  await expect(page.getByLabel("Base branch")).toHaveValue("main");
  await page.getByLabel("Title").fill("Widgets from the browser");
  for (const template of ["chatty", "append-note", "sleep"]) {
    await page.getByRole("button", { name: "Add command run" }).click();
    await page.getByLabel(/Command template of command run/).last().fill(template);
  }
  await page.getByLabel("Instruction").fill(INSTRUCTION);
  await expect(page.getByRole("button", { name: "Start 3 runs" })).toBeEnabled();
  await axe();
  await shot("new-task");
  await page.getByLabel("Instruction").press("Control+Enter");
  await expect(page).toHaveURL(/\/tasks\/[0-9a-f-]{36}$/);
  taskUrl = page.url();
  await expect(page.locator("article[data-run-id]")).toHaveCount(3);
});

test("all three runs stream live, one column each", async () => {
  for (const label of ["Command · chatty", "Command · append-note", "Command · sleep"]) {
    await expect(column(label).getByRole("log").locator("[data-seq]").first()).toBeVisible();
  }
  await expect(page.getByTestId("stream-state")).toHaveText("Stream: live");
  const before = (await shown("Command · chatty")).lines.length;
  await expect.poll(async () => (await shown("Command · chatty")).lines.length).toBeGreaterThan(before);
  await axe();
  await shot("streaming");
});

test("a reload mid-run resumes each stream: nothing lost, nothing doubled", async ({ request }) => {
  // chatty prints 600 lines 20 ms apart: at least 12 s of output to interrupt.
  await expect.poll(() => statusOf("Command · chatty")).toBe("running");
  const seenBefore = (await shown("Command · chatty")).seqs.length;
  await page.reload();
  const afterReload = await firstFrameMs(page);
  console.log(`time to first live frame after a reload mid-run: ${afterReload} ms`);
  // The restored log is there at once, and it keeps growing from the stream.
  await expect.poll(async () => (await shown("Command · chatty")).seqs.length).toBeGreaterThanOrEqual(seenBefore);
  await expect.poll(() => statusOf("Command · chatty"), { timeout: 150_000 }).toBe("succeeded");
  await expect.poll(() => statusOf("Command · append-note")).toBe("succeeded");
  for (const label of ["Command · chatty", "Command · append-note", "Command · sleep"]) {
    const expected = await logged(request, await runId(label));
    await expect.poll(() => shown(label), { message: label }).toEqual(expected);
    expect(new Set(expected.seqs).size).toBe(expected.seqs.length);
  }
  expect((await shown("Command · chatty")).lines).toContain("line 600");
  await shot("after-reload");
});

test("compare two runs' diffs side by side", async () => {
  await column("Command · chatty").getByLabel("Compare").check();
  await column("Command · append-note").getByLabel("Compare").check();
  await page.getByRole("button", { name: "Compare 2 runs" }).click();
  await expect(page.getByRole("heading", { name: /Compare runs/ })).toBeVisible();
  const columns = page.getByTestId("compare-column");
  await expect(columns).toHaveCount(2);
  const chatty = columns.filter({ has: page.getByRole("heading", { name: "Command · chatty" }) });
  const notes = columns.filter({ has: page.getByRole("heading", { name: "Command · append-note" }) });
  await expect(chatty.getByTestId("diff-file")).toContainText("CHATTY.md");
  await expect(notes.getByTestId("diff-file")).toContainText("NOTES.md");
  await expect(notes.getByTestId("diff-file")).toContainText(INSTRUCTION);
  // Side by side: both columns on one row at 1280 px.
  const [left, right] = [await chatty.boundingBox(), await notes.boundingBox()];
  expect(left?.y).toBe(right?.y);
  expect((left?.x ?? 0) + (left?.width ?? 0)).toBeLessThan(right?.x ?? 0);
  await axe();
  await shot("compare");
  await page.getByRole("link", { name: "Back to the task" }).click();
});

test("send a follow-up to one run: a second turn on the same run", async () => {
  const run = column("Command · append-note");
  await run.getByLabel("Follow-up").fill("second line");
  await run.getByLabel("Follow-up").press("Control+Enter");
  await expect(run.getByTestId("run-meta")).toContainText("turn 2");
  await expect.poll(() => statusOf("Command · append-note")).toBe("succeeded");
  await expect(run.getByRole("log")).toContainText("● running (turn 2");
  await run.getByRole("button", { name: "Show diff" }).click();
  await expect(run.getByTestId("diff-file")).toContainText("second line");
  await shot("follow-up");
});

test("cancel one run", async () => {
  await column("Command · sleep").getByRole("button", { name: "Cancel run" }).click();
  await expect.poll(() => statusOf("Command · sleep")).toBe("cancelled");
  await expect(column("Command · sleep").getByRole("log")).toContainText("cancelled");
  await shot("cancelled");
});

test("open a PR on the GitHub stand-in and watch its CI state change", async ({ request }) => {
  const run = column("Command · append-note");
  await run.getByRole("button", { name: "Open PR" }).click();
  const dialog = page.getByRole("dialog", { name: "Open PR" });
  await expect(dialog).toContainText("Widgets from the browser");
  await axe();
  await dialog.getByRole("button", { name: "Open PR" }).click();
  const pr = run.getByTestId("pull-request");
  await expect(pr.locator("[data-status=open]")).toBeVisible({ timeout: 90_000 });
  await expect(pr.getByRole("link", { name: "#1" })).toBeVisible();
  const taskId = taskUrl.split("/").at(-1) ?? "";
  const prs = await apiGet<{ items: { head_sha: string }[] }>(request, `/v1/tasks/${taskId}/pull-requests`);
  const sha = prs.items[0]?.head_sha ?? "";
  await webhook(request, sha, null);
  await expect(pr.getByTestId("ci-status")).toHaveText("CI: pending");
  await shot("pr-ci-pending");
  await webhook(request, sha, "failure");
  await expect(pr.getByTestId("ci-status")).toHaveText("CI: failure");
  await shot("pr-ci-failure");
  await page.getByRole("link", { name: "Board", exact: true }).first().click();
  const failing = page.locator("section[data-column=ci-failing]");
  await expect(failing.getByRole("link", { name: "Widgets from the browser" })).toBeVisible();
  await axe();
  await shot("board-ci-failing");
});

test("dark theme at a phone's width stays readable", async () => {
  await page.goto(taskUrl);
  await page.setViewportSize({ width: 390, height: 844 });
  await page.getByRole("button", { name: "Switch to dark theme" }).click();
  await expect(page.locator("html")).toHaveClass(/dark/);
  await expect(page.locator("article[data-run-id]")).toHaveCount(3);
  await axe();
  await shot("phone-dark");
  await page.getByRole("button", { name: "Switch to light theme" }).click();
  await page.setViewportSize({ width: 1280, height: 900 });
});

test("a Viewer reads everything and sees no mutating control", async ({ browser }) => {
  const viewer = await newPage(browser);
  await signIn(viewer, VIEWER.username, VIEWER.password);
  await expect(viewer.getByTestId("whoami")).toHaveText("vera (viewer)");
  const mutating = /^(New task|Cancel run|Open PR|Update PR|Send follow-up|Save profile|Add user|Add…|Delete.*|Start.*)$/;
  await expect(viewer.getByRole("link", { name: "New task" })).toHaveCount(0);
  await viewer.goto(taskUrl);
  const fresh = await firstFrameMs(viewer);
  console.log(`time to first live frame opening a task page in a fresh tab: ${fresh} ms`);
  await expect(viewer.locator("article[data-run-id]")).toHaveCount(3);
  await expect(viewer.locator("[data-type=log]").first()).toBeVisible();
  await expect(viewer.getByRole("button", { name: mutating })).toHaveCount(0);
  await expect(viewer.getByRole("textbox")).toHaveCount(0);
  await axe(viewer);
  await shot("viewer-task", viewer);
  await viewer.goto("/settings");
  await expect(viewer.getByRole("heading", { name: "Model profiles" })).toBeVisible();
  await expect(viewer.getByRole("button", { name: mutating })).toHaveCount(0);
  await expect(viewer.getByRole("heading", { name: "Users and roles" })).toHaveCount(0);
  await shot("viewer-settings", viewer);
  await viewer.goto("/tasks/new");
  await expect(viewer.getByRole("alert")).toContainText("not start runs");
  await viewer.context().close();
});

// Issue 18: a repository's verify command, one submission of three runs ranked, and what
// each run cost and found. The verify command writes a JUnit report: one test, failing
// unless the agent wrote NOTES.md.
const VERIFY = `echo "checking NOTES.md"; if test -f NOTES.md; then f=0; else f=1; fi; printf '<testsuite tests="1" failures="%s"/>' "$f" > report-junit.xml; exit "$f"`;
const RANKED = ["Command · append-note", "Command · chatty", "Command · fail"] as const;
let rankedTaskUrl = "";

interface ComparisonBody {
  rule: string[];
  runs: { run_id: string; rank: number; figures: { verify_passed: boolean | null; failing_tests: number | null; diff_lines: number; cost_usd: number | null } }[];
}

function ranking(target: Page = page): Locator {
  return target.getByTestId("ranking").locator("tbody tr");
}

async function rankingCells(name: string): Promise<string[]> {
  return ranking().locator(`[data-cell=${name}]`).allTextContents();
}

test("an Admin sets a repository's verify command in Settings", async ({ request }) => {
  await page.goto("/settings");
  const environments = page.getByRole("region", { name: "Repository environments" });
  await environments.getByText(REPO_URL, { exact: true }).click();
  const form = page.getByRole("form", { name: `Environment of ${REPO_URL}` });
  await form.getByLabel(/Verify commands/).fill(VERIFY);
  await form.getByRole("button", { name: /Save environment/ }).click();
  await expect(form.getByText(/Last changed .* by /)).toBeVisible();
  const repos = await apiGet<{ items: { id: string; url: string }[] }>(request, "/v1/repos");
  const repo = repos.items.find((r) => r.url === REPO_URL);
  const saved = await apiGet<{ setup: string[]; verify: string[] }>(request, `/v1/repos/${repo?.id ?? ""}/environment`);
  expect(saved).toMatchObject({ setup: [], verify: [VERIFY] });
  await axe();
  await shot("environment");
});

test("three runs of one submission ranked as the API ranks them, every figure shown", async ({ request }) => {
  await page.getByRole("link", { name: "New task" }).first().click();
  await page.getByLabel("Repository", { exact: true }).selectOption({ label: REPO_URL });
  await page.getByLabel("Title").fill("Ranked in the browser");
  for (const template of ["append-note", "chatty", "fail"]) {
    await page.getByRole("button", { name: "Add command run" }).click();
    await page.getByLabel(/Command template of command run/).last().fill(template);
  }
  await page.getByLabel("Instruction").fill("3");
  await page.getByLabel("Instruction").press("Control+Enter");
  await expect(page).toHaveURL(/\/tasks\/[0-9a-f-]{36}$/);
  rankedTaskUrl = page.url();
  for (const [label, status] of [[RANKED[0], "succeeded"], [RANKED[1], "succeeded"], [RANKED[2], "failed"]] as const) {
    await expect.poll(() => statusOf(label), { message: label, timeout: 90_000 }).toBe(status);
  }
  const ids = await Promise.all(RANKED.map((label) => runId(label)));
  // Succeeded and verified first, then succeeded with a failing test, then the failed run.
  await expect.poll(async () => ranking().evaluateAll((rows) => rows.map((r) => r.getAttribute("data-run-id")))).toEqual(ids);
  const taskId = rankedTaskUrl.split("/").at(-1) ?? "";
  const api = await apiGet<ComparisonBody>(request, `/v1/tasks/${taskId}/comparison`);
  expect(api.runs.map((r) => r.run_id)).toEqual(ids);
  await expect(ranking().first()).toHaveAttribute("data-best", "true");
  await expect(ranking().first()).toContainText("★ best");
  await expect(ranking().filter({ hasText: "★ best" })).toHaveCount(1);
  expect(await rankingCells("rank")).toEqual(["1★ best", "2", "3"]);
  expect(await rankingCells("run_succeeded")).toEqual(["yes", "yes", "no"]);
  expect(await rankingCells("verify_passed")).toEqual(["yes", "no", "no"]);
  expect(await rankingCells("failing_tests")).toEqual(["0", "1", "1"]);
  expect(await rankingCells("diff_lines")).toEqual(api.runs.map((r) => String(r.figures.diff_lines)));
  expect(await rankingCells("diff_lines")).toEqual(["1", "1", "0"]);
  // Command agents report no usage: the cost is not known, and says so.
  expect(api.runs.map((r) => r.figures.cost_usd)).toEqual([null, null, null]);
  expect(await rankingCells("cost_usd")).toEqual(["—", "—", "—"]);
  expect(await rankingCells("duration_seconds")).toHaveLength(3);
  for (const text of await rankingCells("duration_seconds")) expect(text).toMatch(/^\d+(\.\d)? s$|min/);
  await expect(page.getByTestId("ranking-rule")).toHaveText(
    "Rule (server's): succeeded › verify passed › fewer failing tests › smaller diff › lower cost › shorter time",
  );
  await axe();
  await shot("ranking");
});

test("the rule picker reorders the ranking; a bad rule in the URL is a clear message", async () => {
  await page.getByText("Change the rule").click();
  for (let i = 0; i < 3; i += 1) await page.getByRole("button", { name: "Up smaller diff" }).click();
  await expect(page).toHaveURL(/[?&]rule=diff_lines%2Crun_succeeded%2Cverify_passed%2Cfailing_tests%2Ccost_usd%2Cduration_seconds$/);
  await expect(page.getByTestId("ranking-rule")).toHaveText(/^Rule: smaller diff › succeeded › verify passed/);
  // The failed run changed nothing (0 lines): first now; the two 1-line diffs keep their order.
  const ids = await Promise.all(RANKED.map((label) => runId(label)));
  await expect.poll(async () => ranking().evaluateAll((rows) => rows.map((r) => r.getAttribute("data-run-id")))).toEqual([ids[2], ids[0], ids[1]]);
  await axe();
  await shot("ranking-by-diff");
  await page.goto(`${rankedTaskUrl}?rule=diff_lines,bogus`);
  const alert = page.getByTestId("ranking-error");
  await expect(alert).toContainText("This ranking rule is not valid: rule must name distinct criteria of: run_succeeded");
  await expect(page.getByTestId("ranking")).toHaveCount(0);
  await shot("ranking-bad-rule");
  await alert.getByRole("button", { name: "Use the server's rule" }).click();
  await expect(page).toHaveURL(rankedTaskUrl);
  await expect(ranking()).toHaveCount(3);
});

interface UsageBody {
  turns: { turn: number; input_tokens: number; cached_input_tokens: number; output_tokens: number; cost_usd: number | null; cost_source: string }[];
  total: { turns: number; unpriced_turns: number };
}
interface VerificationBody {
  turn: number;
  passed: boolean;
  exit_code: number;
  tests: number | null;
  failures: number | null;
  output_tail: string[];
}

test("a run page shows usage per turn and verification per turn as the API has them", async ({ request }) => {
  const id = await runId(RANKED[1]);
  await page.locator(`tr[data-run-id="${id}"]`).getByRole("link", { name: /^Diff/ }).click();
  await expect(page).toHaveURL(new RegExp(`/runs/${id}#diff$`));
  await expect(page.getByRole("heading", { name: RANKED[1] })).toBeVisible();
  const usage = await apiGet<UsageBody>(request, `/v1/runs/${id}/usage`);
  expect(usage.turns).toHaveLength(1);
  const row = page.getByTestId("usage").locator("tbody tr");
  await expect(row).toHaveCount(1);
  const turn = usage.turns[0];
  await expect(row.locator("[data-cell=input]")).toHaveText(String(turn?.input_tokens));
  await expect(row.locator("[data-cell=cached]")).toHaveText(String(turn?.cached_input_tokens));
  await expect(row.locator("[data-cell=output]")).toHaveText(String(turn?.output_tokens));
  expect(turn?.cost_source).toBe("unpriced");
  await expect(row.locator("[data-cell=cost]")).toHaveText("—");
  await expect(row.locator("[data-cell=source]")).toHaveText("unpriced");
  await expect(page.getByTestId("usage-total")).toContainText("Total (1 turn)");
  await expect(page.getByTestId("usage-total").locator("[data-cell=cost]")).toHaveText("$0.00 + 1 unpriced turn");

  const found = await apiGet<VerificationBody[]>(request, `/v1/runs/${id}/verifications`);
  expect(found).toMatchObject([{ turn: 1, passed: false, exit_code: 1, tests: 1, failures: 1 }]);
  const verification = page.getByTestId("verification");
  await expect(verification).toHaveCount(1);
  await expect(verification).toHaveAttribute("data-passed", "false");
  await expect(verification.locator("[data-status]")).toHaveText("verify: failed");
  await expect(verification.getByTestId("verification-line")).toHaveText(/^failed \(exit 1\) · 1 test, 1 failing · /);
  await verification.getByText(/Output \(last \d+ lines?\)/).click();
  await expect(verification.getByTestId("verification-output")).toHaveText(found[0]?.output_tail.join("\n") ?? "");
  await expect(verification.getByTestId("verification-output")).toContainText("checking NOTES.md");
  await expect(page.locator("#diff").getByTestId("file-changed")).toContainText("CHATTY.md");
  await axe();
  await shot("run-usage-verification");
  await page.getByRole("link", { name: "Back to the task" }).click();
  await column(RANKED[0]).getByRole("link", { name: /Usage and verification/ }).click();
  await expect(page.getByTestId("verification")).toHaveAttribute("data-passed", "true");
  await expect(page.getByTestId("verification-line")).toHaveText(/^passed · 1 test, 0 failing · /);
});

test("Settings shows the caller's usage since a day", async ({ request }) => {
  await page.goto("/settings");
  const since = await page.getByLabel(/Since/).inputValue();
  expect(since).toMatch(/^\d{4}-\d{2}-01$/);
  const iso = await page.evaluate((day) => new Date(`${day}T00:00:00`).toISOString(), since);
  const total = (await apiGet<{ total: UsageBody["total"] }>(request, `/v1/usage?since=${encodeURIComponent(iso)}`)).total;
  // Every turn the Admin ran here: three runs of the first task (two turns on one), three ranked.
  expect(total.turns).toBeGreaterThanOrEqual(6);
  const shownTotals = page.getByTestId("user-usage");
  await expect(shownTotals.locator("[data-cell=turns]")).toHaveText(String(total.turns));
  await expect(shownTotals.locator("[data-cell=cost]")).toHaveText(`$0.00 + ${total.unpriced_turns} unpriced turns`);
  // A day after today counts nothing.
  await page.getByLabel(/Since/).fill("2999-01-01");
  await expect(shownTotals.locator("[data-cell=turns]")).toHaveText("0");
  await axe();
  await shot("usage-settings");
});
