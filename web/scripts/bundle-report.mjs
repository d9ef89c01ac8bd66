// Bundle report: the JavaScript a browser downloads on the first load of each page (the
// entry chunk plus the page's lazy chunk and everything they import statically), gzip
// sized. Fails when the task page's first load exceeds its budget.
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { join } from "node:path";

const DIST = new URL("../dist/", import.meta.url).pathname;
const TASK_PAGE_BUDGET_KB = 250;
const PAGES = {
  "task page": "src/tasks/TaskPage.tsx",
  "new task": "src/tasks/NewTaskPage.tsx",
  compare: "src/diff/ComparePage.tsx",
  settings: "src/settings/SettingsPage.tsx",
};

const manifest = JSON.parse(readFileSync(join(DIST, ".vite", "manifest.json"), "utf8"));
const entryKey = Object.keys(manifest).find((key) => manifest[key].isEntry);

/** The chunk files a manifest entry loads: itself and its static imports, transitively. */
function closure(key, seen = new Set()) {
  const chunk = manifest[key];
  if (!chunk || seen.has(chunk.file)) return seen;
  seen.add(chunk.file);
  for (const imported of chunk.imports ?? []) closure(imported, seen);
  return seen;
}

const gzipKb = (file) => gzipSync(readFileSync(join(DIST, file))).length / 1024;
const rawKb = (file) => readFileSync(join(DIST, file)).length / 1024;

function firstLoad(pageKey) {
  const files = closure(entryKey, pageKey ? closure(pageKey) : new Set());
  const js = [...files].filter((file) => file.endsWith(".js"));
  return { js, gzip: js.reduce((n, f) => n + gzipKb(f), 0), raw: js.reduce((n, f) => n + rawKb(f), 0) };
}

const rows = [["board (entry)", firstLoad(null)], ...Object.entries(PAGES).map(([name, key]) => [name, firstLoad(key)])];
console.log("first load of each page: JavaScript, gzip (raw)");
for (const [name, load] of rows) {
  console.log(`  ${name.padEnd(14)} ${load.gzip.toFixed(1).padStart(7)} KB (${load.raw.toFixed(1)} KB) in ${load.js.length} files`);
}
const task = rows.find(([name]) => name === "task page")[1];
for (const file of task.js) console.log(`    task page: ${file} ${gzipKb(file).toFixed(1)} KB`);
if (task.gzip > TASK_PAGE_BUDGET_KB) {
  console.error(`task page first load ${task.gzip.toFixed(1)} KB > budget ${TASK_PAGE_BUDGET_KB} KB`);
  process.exit(1);
}
console.log(`task page first load within its ${TASK_PAGE_BUDGET_KB} KB budget`);
