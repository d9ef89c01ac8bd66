import type { Run } from "../api/client";

/** The files a run's patch touches, with lines added and removed. */
export function FilesChanged({ files }: { files: Run["files_changed"] }) {
  if (files.length === 0) return <p className="muted text-sm">No files changed.</p>;
  const added = files.reduce((n, f) => n + f.additions, 0);
  const removed = files.reduce((n, f) => n + f.deletions, 0);
  return (
    <table className="w-full text-sm">
      <caption className="text-left font-medium">
        {files.length} file{files.length === 1 ? "" : "s"} changed{" "}
        <span className="text-green-800 dark:text-green-300">+{added}</span>{" "}
        <span className="text-red-800 dark:text-red-300">−{removed}</span>
      </caption>
      <thead className="sr-only">
        <tr>
          <th scope="col">File</th>
          <th scope="col">Added</th>
          <th scope="col">Removed</th>
        </tr>
      </thead>
      <tbody>
        {files.map((file) => (
          <tr key={file.path} data-testid="file-changed">
            <td className="break-all font-mono text-xs">
              {file.path} <span className="muted">({file.change})</span>
            </td>
            <td className="text-right text-green-800 dark:text-green-300">+{file.additions}</td>
            <td className="text-right text-red-800 dark:text-red-300">−{file.deletions}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
