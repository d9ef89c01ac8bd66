import { useCan } from "../app/services";
import { ApiTokens } from "./ApiTokens";
import { Environments } from "./Environments";
import { ModelProfiles } from "./ModelProfiles";
import { UsageTotals } from "./UsageTotals";
import { Users } from "./Users";

function GitHubApp() {
  return (
    <section aria-labelledby="github-title" className="card space-y-2">
      <h2 id="github-title" className="text-lg font-semibold">GitHub App</h2>
      <p className="text-sm">
        The App's id and private key live in the platform's secret store (Key Vault in Azure);
        pull requests show whether pushing and opening them worked. The public API does not
        report the App's installation status yet.
      </p>
    </section>
  );
}

export default function SettingsPage() {
  const isAdmin = useCan("admin");
  return (
    <div className="mx-auto max-w-4xl space-y-4">
      <h1 className="text-xl font-bold">Settings</h1>
      <UsageTotals />
      <ModelProfiles />
      <ApiTokens />
      <Environments />
      {isAdmin && <Users />}
      <GitHubApp />
    </div>
  );
}
