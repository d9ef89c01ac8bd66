/**
 * A resumable Server-Sent Events reader over fetch(), for the gateway's run and task streams.
 *
 * fetch() rather than EventSource: it sends the bearer token in the Authorization header
 * (no secret in any URL, no ticket round trip), and it leaves reconnection to us, which we
 * need anyway: every reconnect resumes with the last id seen, duplicates are dropped by
 * (run_id, seq), `event: reconnect` (the server's lifetime cap) reconnects at once, and 204
 * (the run ended, nothing left) ends the stream for good.
 */
import { createParser, type EventSourceMessage } from "eventsource-parser";

/** One run event as the gateway frames it (`data:` of every non-control frame). */
export interface RunEvent {
  run_id: string;
  task_id: string;
  seq: number;
  turn: number;
  attempt: number;
  type: string;
  data: Record<string, unknown>;
  created_at: string;
}

export type StreamState = "connecting" | "open" | "waiting" | "ended" | "failed";

/** Why a stream stopped for good (HTTP status and the problem's detail). */
export interface StreamFailure {
  status: number;
  detail: string;
}

export interface StreamOptions {
  /** Path or URL of the stream, e.g. `/v1/tasks/<id>/stream`. */
  url: string;
  /** Resume after this id (a run seq, or a task cursor `<run-hex>:<seq>,…`). */
  lastEventId?: string | null;
  /** For a run stream: the run whose seq `lastEventId` is. */
  runId?: string;
  /** The `Authorization` header value, asked before every (re)connect. */
  authorization: () => Promise<string | null>;
  onEvent: (event: RunEvent, id: string) => void;
  onState?: (state: StreamState, failure?: StreamFailure) => void;
  /** The server refused our cursor (400): the caller drops what it kept; we start over. */
  onReset?: () => void;
  /** Every frame's id, for callers that persist the cursor. */
  onCursor?: (id: string) => void;
  fetch?: typeof fetch;
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  maxBackoffMs?: number;
}

const DEFAULT_RETRY_MS = 1000;

/** Per-run highest seq seen, from a task cursor or a run stream id. */
export function seqsFromCursor(cursor: string | null | undefined): Map<string, number> {
  const seen = new Map<string, number>();
  for (const part of (cursor ?? "").split(",")) {
    const [hex, seq] = part.split(":");
    if (hex && seq && /^[0-9a-f]{32}$/i.test(hex) && /^\d+$/.test(seq)) {
      seen.set(hexToUuid(hex), Number(seq));
    }
  }
  return seen;
}

function hexToUuid(hex: string): string {
  const h = hex.toLowerCase();
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

function defaultSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** What one connection ended with, deciding the next step. */
type Outcome =
  | { kind: "reconnect"; delayMs: number }
  | { kind: "ended" }
  | { kind: "failed"; failure: StreamFailure }
  | { kind: "reset" };

export class ResumableStream {
  private readonly options: StreamOptions;
  private readonly controller = new AbortController();
  private readonly seen: Map<string, number>;
  private lastId: string | null;
  private retryMs = DEFAULT_RETRY_MS;
  private failures = 0;
  private running: Promise<void> | null = null;

  constructor(options: StreamOptions) {
    this.options = options;
    this.lastId = options.lastEventId ?? null;
    this.seen = seqsFromCursor(this.lastId);
    if (options.runId && this.lastId && /^\d+$/.test(this.lastId)) {
      this.seen.set(options.runId, Number(this.lastId));
    }
  }

  /** The id the next connection resumes after. */
  get cursor(): string | null {
    return this.lastId;
  }

  start(): Promise<void> {
    this.running ??= this.loop();
    return this.running;
  }

  stop(): void {
    this.controller.abort();
  }

  private stopped(): boolean {
    return this.controller.signal.aborted;
  }

  private async loop(): Promise<void> {
    const sleep = this.options.sleep ?? defaultSleep;
    while (!this.controller.signal.aborted) {
      this.options.onState?.("connecting");
      const outcome = await this.connectOnce();
      if (this.stopped()) return;
      if (outcome.kind === "ended") {
        this.options.onState?.("ended");
        return;
      }
      if (outcome.kind === "failed") {
        this.options.onState?.("failed", outcome.failure);
        return;
      }
      if (outcome.kind === "reset") {
        this.lastId = null;
        this.seen.clear();
        this.options.onReset?.();
        continue;
      }
      if (outcome.delayMs > 0) {
        this.options.onState?.("waiting");
        await sleep(outcome.delayMs, this.controller.signal);
      }
    }
  }

  private async connectOnce(): Promise<Outcome> {
    const doFetch = this.options.fetch ?? fetch.bind(globalThis);
    let response: Response;
    try {
      response = await doFetch(this.options.url, {
        headers: await this.headers(),
        signal: this.controller.signal,
        cache: "no-store",
      });
    } catch {
      return this.backoff();
    }
    if (response.status === 200 && response.body) return this.consume(response.body);
    return this.answerTo(response);
  }

  private async headers(): Promise<Record<string, string>> {
    const headers: Record<string, string> = { accept: "text/event-stream" };
    const authorization = await this.options.authorization();
    if (authorization) headers.authorization = authorization;
    if (this.lastId) headers["last-event-id"] = this.lastId;
    return headers;
  }

  private async answerTo(response: Response): Promise<Outcome> {
    const { status } = response;
    if (status === 204) return { kind: "ended" };
    if (status === 429) return { kind: "reconnect", delayMs: retryAfterMs(response) };
    if (status >= 500 || status === 200) return this.backoff();
    const detail = await problemDetail(response);
    if (status === 400 && this.lastId) return { kind: "reset" };
    return { kind: "failed", failure: { status, detail } };
  }

  private backoff(): Outcome {
    this.failures += 1;
    const cap = this.options.maxBackoffMs ?? 30_000;
    const delayMs = Math.min(cap, this.retryMs * 2 ** Math.min(this.failures - 1, 6));
    return { kind: "reconnect", delayMs };
  }

  private async consume(body: ReadableStream<Uint8Array>): Promise<Outcome> {
    this.options.onState?.("open");
    const seen = { reconnect: false, delivered: false };
    const parser = createParser({
      onRetry: (ms) => {
        this.retryMs = ms;
      },
      onEvent: (message) => {
        if (message.event === "reconnect") {
          this.remember(message.id);
          seen.reconnect = true;
          return;
        }
        if (this.deliver(message)) seen.delivered = true;
      },
    });
    const reader = body.getReader();
    const decoder = new TextDecoder();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        parser.feed(decoder.decode(value, { stream: true }));
        if (seen.delivered) this.failures = 0;
        if (seen.reconnect) break;
      }
    } catch {
      return this.backoff();
    } finally {
      reader.cancel().catch(() => undefined);
    }
    if (seen.reconnect) return { kind: "reconnect", delayMs: 0 };
    // A clean end without `reconnect` (run stream after its terminal event, a restarted
    // replica): come back after the server's `retry:`; a finished run then answers 204.
    return { kind: "reconnect", delayMs: this.retryMs };
  }

  /** Hand a frame to the caller unless its (run, seq) was delivered already. */
  private deliver(message: EventSourceMessage): boolean {
    let event: RunEvent;
    try {
      event = JSON.parse(message.data) as RunEvent;
    } catch {
      return false;
    }
    if (typeof event.run_id !== "string" || typeof event.seq !== "number") return false;
    if ((this.seen.get(event.run_id) ?? 0) >= event.seq) return false;
    this.seen.set(event.run_id, event.seq);
    this.remember(message.id);
    this.options.onEvent(event, this.lastId ?? "");
    return true;
  }

  private remember(id: string | undefined): void {
    if (!id) return;
    this.lastId = id;
    this.options.onCursor?.(id);
  }
}

function retryAfterMs(response: Response): number {
  const seconds = Number(response.headers.get("retry-after"));
  return Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : 5000;
}

async function problemDetail(response: Response): Promise<string> {
  try {
    const body = (await response.json()) as { detail?: string; title?: string };
    return body.detail ?? body.title ?? response.statusText;
  } catch {
    return response.statusText;
  }
}
