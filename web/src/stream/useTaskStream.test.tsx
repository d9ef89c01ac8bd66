import type { ReactNode } from "react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { act, renderHook, waitFor } from "@testing-library/react";
import { ServicesContext, type Services } from "../app/services";
import type { Api } from "../api/client";
import { LOCAL_CONFIG } from "../auth/runtimeConfig";
import type { Session } from "../auth/session";
import type { RunEvent } from "./sseClient";
import type { TaskLog, TaskLogStore } from "./taskLog";
import { useTaskStream } from "./useTaskStream";

const RUN = "11111111-1111-4111-8111-111111111111";
const HEX = RUN.replaceAll("-", "");

function event(seq: number): RunEvent {
  return { run_id: RUN, task_id: "t", seq, turn: 1, attempt: 1, type: "log", data: { stream: "stdout", lines: [`line ${seq}`] }, created_at: "" };
}
const frame = (seq: number) => `id: ${HEX}:${seq}\nevent: log\ndata: ${JSON.stringify(event(seq))}\n\n`;

/** An in-memory TaskLogStore (IndexedDB in the browser). */
function memoryStore(initial: TaskLog) {
  const saved: TaskLog[] = [];
  const store: TaskLogStore = {
    load: () => Promise.resolve(structuredClone(initial)),
    save: (_id, log) => {
      saved.push(structuredClone(log));
      return Promise.resolve();
    },
    clear: () => Promise.resolve(),
    clearAll: () => Promise.resolve(),
  };
  return { store, saved };
}

function wrapper({ children }: { children: ReactNode }) {
  const session: Session = {
    mode: "local",
    authorization: () => Promise.resolve("Bearer t"),
    isSignedIn: () => true,
    signOut: () => Promise.resolve(),
    forget: () => undefined,
  };
  const services: Services = { config: LOCAL_CONFIG, session, api: {} as Api, signedIn: true, setSignedIn: () => undefined };
  return <ServicesContext value={services}>{children}</ServicesContext>;
}

afterEach(() => {
  vi.unstubAllGlobals();
});

describe("useTaskStream", () => {
  it("restores this tab's log, resumes after its cursor and saves what arrives, once each", async () => {
    const requests: Headers[] = [];
    vi.stubGlobal("fetch", (_url: string, init: RequestInit) => {
      requests.push(new Headers(init.headers));
      if (requests.length > 1) return Promise.resolve(new Response(null, { status: 204 }));
      // The server overlaps with what we have (seq 2), then sends 3 and 4.
      return Promise.resolve(new Response(frame(2) + frame(3) + frame(4), { status: 200 }));
    });
    const { store, saved } = memoryStore({ cursor: `${HEX}:2`, events: [event(1), event(2)] });
    const onLive = vi.fn();
    const { result, unmount } = renderHook(() => useTaskStream("t", onLive, store), { wrapper });

    await waitFor(() => {
      expect(result.current.log.events.map((e) => e.seq)).toEqual([1, 2, 3, 4]);
    });
    expect(requests[0]?.get("last-event-id")).toBe(`${HEX}:2`);
    expect(requests[0]?.get("authorization")).toBe("Bearer t");
    expect(onLive.mock.calls.map(([e]) => (e as RunEvent).seq)).toEqual([3, 4]);
    await waitFor(() => {
      expect(saved.at(-1)?.cursor).toBe(`${HEX}:4`);
    });
    expect(saved.at(-1)?.events.map((e) => e.seq)).toEqual([1, 2, 3, 4]);
    act(() => {
      unmount();
    });
  });
});
