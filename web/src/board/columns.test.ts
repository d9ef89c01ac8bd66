// @vitest-environment node
import { describe, expect, it } from "vitest";
import type { PullRequest, Run } from "../api/client";
import { columnOf } from "./columns";

const run = (status: Run["status"]) => ({ status }) as Run;
const pr = (state: PullRequest["state"], ci_status = "unknown") => ({ state, ci_status }) as PullRequest;

describe("columnOf", () => {
  it("puts a task with no runs in 'new'", () => {
    expect(columnOf([], [])).toBe("new");
  });
  it("is 'running' while any run is queued or running, whatever the PRs say", () => {
    expect(columnOf([run("succeeded"), run("queued")], [])).toBe("running");
    expect(columnOf([run("running")], [pr("open", "failure")])).toBe("running");
  });
  it("needs review once every run has ended and no PR exists (failed runs too)", () => {
    expect(columnOf([run("succeeded"), run("failed"), run("cancelled")], [])).toBe("review");
    expect(columnOf([run("failed")], [pr("failed")])).toBe("review");
    expect(columnOf([run("succeeded")], [pr("closed")])).toBe("review");
  });
  it("follows an open PR's CI", () => {
    expect(columnOf([run("succeeded")], [pr("requested")])).toBe("pr-open");
    expect(columnOf([run("succeeded")], [pr("open", "pending")])).toBe("pr-open");
    expect(columnOf([run("succeeded")], [pr("open", "success")])).toBe("pr-open");
    expect(columnOf([run("succeeded")], [pr("open", "failure")])).toBe("ci-failing");
  });
  it("is 'merged' when a PR merged and none is still open", () => {
    expect(columnOf([run("succeeded")], [pr("merged", "success")])).toBe("merged");
    expect(columnOf([run("succeeded"), run("succeeded")], [pr("merged"), pr("open")])).toBe("pr-open");
  });
});
