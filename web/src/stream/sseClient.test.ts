// @vitest-environment node
import { describe, expect, it } from "vitest";
import { ResumableStream, seqsFromCursor, type RunEvent, type StreamState } from "./sseClient";

const RUN_A = "11111111-1111-4111-8111-111111111111";
const RUN_B = "22222222-2222-4222-8222-222222222222";
const hex = (id: string) => id.replaceAll("-", "");

/** One SSE frame of a task stream, with the gateway's cursor id. */
function frame(run: string, seq: number, cursor: string, type = "log"): string {
  const data = { run_id: run, task_id: "t", seq, turn: 1, attempt: 1, type, data: {}, created_at: "" };
  return `id: ${cursor}\nevent: ${type}\ndata: ${JSON.stringify(data)}\n\n`;
}

/** What one scripted connection answers: a status, and body chunks (then close or hang). */
interface Answer {
  status?: number;
  chunks?: string[];
  hang?: boolean;
  error?: boolean;
  headers?: Record<string, string>;
}

/** A scripted network: records each request's headers, answers from the script in order. */
function scriptedFetch(answers: Answer[]) {
  const requests: Record<string, string>[] = [];
  const fetchImpl = (_url: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    requests.push({ ...(init?.headers as Record<string, string>) });
    const answer = answers.shift();
    if (!answer || answer.error) return Promise.reject(new TypeError("network down"));
    const status = answer.status ?? 200;
    if (status !== 200) {
      return Promise.resolve(
        new Response(status === 204 ? null : JSON.stringify({ detail: `status ${status}` }), {
          status,
          headers: answer.headers,
        }),
      );
    }
    const encoder = new TextEncoder();
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        for (const chunk of answer.chunks ?? []) controller.enqueue(encoder.encode(chunk));
        if (!answer.hang) controller.close();
        init?.signal?.addEventListener("abort", () => {
          controller.error(new DOMException("aborted", "AbortError"));
        });
      },
    });
    return Promise.resolve(new Response(body, { status: 200 }));
  };
  return { fetchImpl, requests };
}

/** Runs a stream over a script until it ends; returns what it delivered and the states. */
async function run(answers: Answer[], lastEventId: string | null = null) {
  const { fetchImpl, requests } = scriptedFetch(answers);
  const events: [RunEvent, string][] = [];
  const states: StreamState[] = [];
  const sleeps: number[] = [];
  const timeline: string[] = [];
  let resets = 0;
  let tokens = 0;
  const stream = new ResumableStream({
    url: "/v1/tasks/t/stream",
    lastEventId,
    authorization: () => {
      tokens += 1;
      timeline.push("connect");
      return Promise.resolve(`Bearer token-${tokens}`);
    },
    onEvent: (event, id) => events.push([event, id]),
    onState: (state) => states.push(state),
    onReset: () => (resets += 1),
    fetch: fetchImpl,
    sleep: (ms) => {
      sleeps.push(ms);
      timeline.push(`sleep ${ms}`);
      return Promise.resolve();
    },
  });
  await stream.start();
  return { events, states, sleeps, timeline, requests, resets, stream };
}

const seqs = (events: [RunEvent, string][]) => events.map(([e]) => `${e.run_id.slice(0, 1)}${e.seq}`);

describe("ResumableStream", () => {
  it("resumes after a dropped connection from the last id it saw", async () => {
    const c1 = `${hex(RUN_A)}:1`;
    const c2 = `${hex(RUN_A)}:2`;
    const c3 = `${hex(RUN_A)}:2,${hex(RUN_B)}:1`;
    const { events, requests } = await run([
      { chunks: ["retry: 250\n\n", frame(RUN_A, 1, c1), frame(RUN_A, 2, c2)], hang: false },
      { error: true },
      { chunks: [frame(RUN_B, 1, c3)] },
      { status: 204 },
    ]);
    expect(seqs(events)).toEqual(["11", "12", "21"]);
    expect(requests.map((r) => r["last-event-id"])).toEqual([undefined, c2, c2, c3]);
    // A fresh Authorization header for every connection (a token may have been renewed).
    expect(requests.map((r) => r.authorization)).toEqual([
      "Bearer token-1",
      "Bearer token-2",
      "Bearer token-3",
      "Bearer token-4",
    ]);
  });

  it("resumes from a cursor it was given (a reload) and never re-delivers what it covers", async () => {
    const given = `${hex(RUN_A)}:5,${hex(RUN_B)}:2`;
    const { events, requests } = await run(
      [
        {
          chunks: [
            frame(RUN_A, 5, given), // the server overlapping what we have
            frame(RUN_B, 3, `${hex(RUN_A)}:5,${hex(RUN_B)}:3`),
          ],
        },
        { status: 204 },
      ],
      given,
    );
    expect(requests[0]?.["last-event-id"]).toBe(given);
    expect(seqs(events)).toEqual(["23"]);
  });

  it("drops duplicate frames by (run, seq) across and within connections", async () => {
    const { events } = await run([
      { chunks: [frame(RUN_A, 1, "a1"), frame(RUN_A, 2, "a2"), frame(RUN_A, 2, "a2")] },
      // The replay after the reconnect overlaps: 1 and 2 again, then 3.
      { chunks: [frame(RUN_A, 1, "a1"), frame(RUN_A, 2, "a2"), frame(RUN_A, 3, "a3")] },
      { status: 204 },
    ]);
    expect(seqs(events)).toEqual(["11", "12", "13"]);
    expect(events.map(([, id]) => id)).toEqual(["a1", "a2", "a3"]);
  });

  it("delivers frames split across chunks exactly once", async () => {
    const whole = frame(RUN_A, 1, "a1") + frame(RUN_A, 2, "a2");
    const { events } = await run([
      { chunks: [whole.slice(0, 7), whole.slice(7, 60), whole.slice(60)] },
      { status: 204 },
    ]);
    expect(seqs(events)).toEqual(["11", "12"]);
  });

  it("reconnects at once on `event: reconnect`, with the id it carries, without waiting for close", async () => {
    const { events, requests, timeline } = await run([
      {
        chunks: [frame(RUN_A, 1, "c1"), "id: c1\nevent: reconnect\ndata: {}\n\n"],
        hang: true, // the client must act on the frame, not on the connection closing
      },
      { chunks: [frame(RUN_A, 2, "c2")] },
      { status: 204 },
    ]);
    expect(seqs(events)).toEqual(["11", "12"]);
    expect(requests[1]?.["last-event-id"]).toBe("c1");
    // No delay before the reconnect; the clean close after it waits the default retry.
    expect(timeline).toEqual(["connect", "connect", "sleep 1000", "connect"]);
  });

  it("ends on 204 (run over, nothing left) without reconnecting", async () => {
    const { states, requests } = await run([{ status: 204 }, { chunks: [frame(RUN_A, 1, "x")] }]);
    expect(requests).toHaveLength(1);
    expect(states.at(-1)).toBe("ended");
  });

  it("waits the server's Retry-After on 429 and backs off on 5xx and network errors", async () => {
    const { sleeps, events } = await run([
      { status: 429, headers: { "retry-after": "3" } },
      { status: 503 },
      { error: true },
      { chunks: [frame(RUN_A, 1, "a1")] },
      { status: 204 },
    ]);
    expect(sleeps.slice(0, 3)).toEqual([3000, 1000, 2000]);
    expect(seqs(events)).toEqual(["11"]);
  });

  it("stops for good on 401 and 404, telling why", async () => {
    const { fetchImpl } = scriptedFetch([{ status: 401 }]);
    const failures: unknown[] = [];
    await new ResumableStream({
      url: "/v1/tasks/t/stream",
      authorization: () => Promise.resolve(null),
      onEvent: () => undefined,
      onState: (state, failure) => state === "failed" && failures.push(failure),
      fetch: fetchImpl,
    }).start();
    expect(failures).toEqual([{ status: 401, detail: "status 401" }]);
  });

  it("starts over when the server refuses its cursor (400), telling the caller to drop its state", async () => {
    const { events, requests, resets } = await run(
      [{ status: 400 }, { chunks: [frame(RUN_A, 1, "a1")] }, { status: 204 }],
      `${hex(RUN_A)}:9`,
    );
    expect(resets).toBe(1);
    expect(requests[1]?.["last-event-id"]).toBeUndefined();
    expect(seqs(events)).toEqual(["11"]); // seq 1 is new after the reset, not a duplicate of 9
  });

  it("resumes a run stream after a plain seq id", async () => {
    const { fetchImpl, requests } = scriptedFetch([
      { chunks: [frame(RUN_A, 4, "4"), frame(RUN_A, 5, "5")] },
      { status: 204 },
    ]);
    const got: number[] = [];
    await new ResumableStream({
      url: `/v1/runs/${RUN_A}/stream`,
      runId: RUN_A,
      lastEventId: "4",
      authorization: () => Promise.resolve(null),
      onEvent: (e) => got.push(e.seq),
      fetch: fetchImpl,
      sleep: () => Promise.resolve(),
    }).start();
    expect(got).toEqual([5]);
    expect(requests.map((r) => r["last-event-id"])).toEqual(["4", "5"]);
  });
});

describe("seqsFromCursor", () => {
  it("reads every run's seq from a task cursor and ignores junk", () => {
    const seen = seqsFromCursor(`${hex(RUN_A)}:7,${hex(RUN_B)}:0,zz:1,`);
    expect([...seen]).toEqual([
      [RUN_A, 7],
      [RUN_B, 0],
    ]);
  });
});
