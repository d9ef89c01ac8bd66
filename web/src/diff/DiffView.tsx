import { useMemo } from "react";
import { Diff, Hunk, parseDiff, type FileData } from "react-diff-view";
import "react-diff-view/style/index.css";
import "./diff.css";

function fileName(file: FileData): string {
  return file.type === "delete" ? file.oldPath : file.newPath;
}

/** Lines added and removed in one file of a parsed diff. */
export function lineCounts(file: FileData): { added: number; removed: number } {
  let added = 0;
  let removed = 0;
  for (const hunk of file.hunks) {
    for (const change of hunk.changes) {
      if (change.type === "insert") added += 1;
      else if (change.type === "delete") removed += 1;
    }
  }
  return { added, removed };
}

/** A unified diff rendered per file, with each file's +/− counts. */
export default function DiffView({ patch }: { patch: string }) {
  const files = useMemo(() => parseDiff(patch, { nearbySequences: "zip" }), [patch]);
  if (files.length === 0) return <p className="muted text-sm">The patch is empty.</p>;
  return (
    <div className="space-y-3">
      {files.map((file) => {
        const { added, removed } = lineCounts(file);
        const name = fileName(file);
        return (
          <section
            key={`${file.oldPath}->${file.newPath}`}
            aria-label={`Diff of ${name}`}
            data-testid="diff-file"
            className="overflow-x-auto rounded border border-slate-300 dark:border-slate-700"
          >
            <h4 className="flex justify-between gap-2 border-b border-slate-300 bg-slate-100 px-2 py-1 font-mono text-xs dark:border-slate-700 dark:bg-slate-800">
              <span className="break-all">{name}</span>
              <span>
                <span className="text-green-800 dark:text-green-300">+{added}</span>{" "}
                <span className="text-red-800 dark:text-red-300">−{removed}</span>
              </span>
            </h4>
            <Diff viewType="unified" diffType={file.type} hunks={file.hunks}>
              {(hunks) => hunks.map((hunk) => <Hunk key={hunk.content} hunk={hunk} />)}
            </Diff>
          </section>
        );
      })}
    </div>
  );
}
