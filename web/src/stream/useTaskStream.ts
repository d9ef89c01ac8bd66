/** The live task stream of a task page: restored from the tab's log, resumed, persisted. */
import { useEffect, useRef, useState } from "react";
import { useServices } from "../app/services";
import { ResumableStream, type RunEvent, type StreamFailure, type StreamState } from "./sseClient";
import { emptyLog, indexedDbStore, type TaskLog, type TaskLogStore } from "./taskLog";

const SAVE_DELAY_MS = 400;

export interface TaskStreamView {
  log: TaskLog;
  state: StreamState;
  failure: StreamFailure | null;
}

export const defaultStore = indexedDbStore();

/**
 * Opens `/v1/tasks/{id}/stream` after restoring what this tab had received, and hands every
 * new event to `onLive` too (for toasts and cache refreshes).
 */
export function useTaskStream(
  taskId: string,
  onLive: (event: RunEvent) => void,
  store: TaskLogStore = defaultStore,
): TaskStreamView {
  const { config, session, setSignedIn } = useServices();
  const [log, setLog] = useState<TaskLog>(emptyLog);
  const [state, setState] = useState<StreamState>("connecting");
  const [failure, setFailure] = useState<StreamFailure | null>(null);
  const onLiveRef = useRef(onLive);
  useEffect(() => {
    onLiveRef.current = onLive;
  }, [onLive]);

  useEffect(() => {
    let stream: ResumableStream | null = null;
    let current: TaskLog = emptyLog();
    let framesSeen = 0;
    let saveTimer: ReturnType<typeof setTimeout> | undefined;
    let stopped = false;
    const save = () => {
      clearTimeout(saveTimer);
      saveTimer = undefined;
      void store.save(taskId, current);
    };
    const scheduleSave = () => {
      saveTimer ??= setTimeout(save, SAVE_DELAY_MS);
    };
    const onPageHide = () => {
      save();
    };
    window.addEventListener("pagehide", onPageHide);

    void store.load(taskId).then((restored) => {
      if (stopped) return;
      current = restored;
      setLog(restored);
      stream = new ResumableStream({
        url: `${config.apiBaseUrl}/v1/tasks/${taskId}/stream`,
        lastEventId: restored.cursor,
        authorization: () => session.authorization(),
        onEvent: (event, id) => {
          framesSeen += 1;
          if (framesSeen === 1) performance.mark("dursor:first-frame");
          // Appended in place (no copy per frame); a new wrapper object re-renders the page.
          current.events.push(event);
          current = { cursor: id, events: current.events };
          setLog(current);
          scheduleSave();
          onLiveRef.current(event);
        },
        onReset: () => {
          current = emptyLog();
          setLog(current);
          void store.clear(taskId);
        },
        onState: (next, why) => {
          setState(next);
          setFailure(why ?? null);
          if (why?.status === 401) {
            session.forget();
            setSignedIn(false);
          }
        },
      });
      void stream.start();
    });

    return () => {
      stopped = true;
      stream?.stop();
      window.removeEventListener("pagehide", onPageHide);
      if (saveTimer !== undefined) save();
    };
  }, [taskId, config.apiBaseUrl, session, setSignedIn, store]);

  return { log, state, failure };
}
