// src/api/schema.d.ts must be what openapi-typescript makes of the gateway's public OpenAPI
// document (docs/openapi.json): a contract change shows in review as a change of both.
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const web = new URL("..", import.meta.url).pathname;
const document = join(web, "..", "docs", "openapi.json");
const committed = join(web, "src", "api", "schema.d.ts");
if (!existsSync(document)) {
  console.log("docs/openapi.json is not in this checkout yet: API types not checked");
  process.exit(0);
}
const fresh = join(mkdtempSync(join(tmpdir(), "dursor-api-")), "schema.d.ts");
// The flags of `npm run gen:api`: a field with a default is optional in a request body.
const flags = ["--default-non-nullable", "false"];
execFileSync(join(web, "node_modules", ".bin", "openapi-typescript"), [document, ...flags, "-o", fresh], {
  stdio: "ignore",
});
if (readFileSync(fresh, "utf8") !== readFileSync(committed, "utf8")) {
  console.error("src/api/schema.d.ts is stale: run `npm run gen:api` in web/ and commit it");
  process.exit(1);
}
console.log("API types match docs/openapi.json");
