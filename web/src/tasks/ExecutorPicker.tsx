import type { ModelProfile } from "../api/client";
import { CLI_AGENTS, rememberedTemplates, type CliType, type ExecutorChoice } from "./executors";

function CliAgents({ choice, profiles, onChange }: PickerProps) {
  const setCli = (type: CliType, profile: string | undefined) => {
    const others = Object.entries(choice.clis).filter(([name]) => name !== type);
    const clis = Object.fromEntries(profile === undefined ? others : [...others, [type, profile]]);
    onChange({ ...choice, clis });
  };
  return (
    <fieldset className="space-y-2">
      <legend className="text-sm font-medium">Agent CLIs</legend>
      {CLI_AGENTS.map((agent) => {
        const chosen = choice.clis[agent.type];
        const fitting = profiles.filter((p) => p.provider === agent.provider);
        return (
          <div key={agent.type} className="flex flex-wrap items-center gap-2">
            <label className="flex min-w-36 items-center gap-2 text-sm">
              <input
                type="checkbox"
                checked={chosen !== undefined}
                onChange={(e) => setCli(agent.type, e.target.checked ? "" : undefined)}
              />
              {agent.name}
            </label>
            {chosen !== undefined && (
              <select
                aria-label={`Model profile for ${agent.name}`}
                className="input w-auto"
                value={chosen}
                onChange={(e) => setCli(agent.type, e.target.value)}
              >
                <option value="">The worker's own key</option>
                {fitting.map((p) => (
                  <option key={p.id} value={p.id}>
                    {p.name} ({p.model})
                  </option>
                ))}
              </select>
            )}
          </div>
        );
      })}
    </fieldset>
  );
}

function DirectModels({ choice, profiles, onChange }: PickerProps) {
  const toggle = (id: string, on: boolean) => {
    const llmProfiles = on ? [...choice.llmProfiles, id] : choice.llmProfiles.filter((p) => p !== id);
    onChange({ ...choice, llmProfiles });
  };
  return (
    <fieldset className="space-y-1">
      <legend className="text-sm font-medium">Direct model calls (model profiles)</legend>
      {profiles.length === 0 && <p className="muted text-sm">No model profiles yet (Settings).</p>}
      {profiles.map((p) => (
        <label key={p.id} className="flex items-center gap-2 text-sm">
          <input type="checkbox" checked={choice.llmProfiles.includes(p.id)} onChange={(e) => toggle(p.id, e.target.checked)} />
          {p.name} <span className="muted">({p.provider} · {p.model})</span>
        </label>
      ))}
    </fieldset>
  );
}

function CommandRuns({ choice, onChange }: Omit<PickerProps, "profiles">) {
  const setAt = (index: number, name: string | null) => {
    const commands = [...choice.commands];
    if (name === null) commands.splice(index, 1);
    else commands[index] = name;
    onChange({ ...choice, commands });
  };
  return (
    <fieldset className="space-y-2">
      <legend className="text-sm font-medium">Command agents (the operator's templates)</legend>
      <datalist id="command-templates">
        {rememberedTemplates().map((name) => (
          <option key={name} value={name} />
        ))}
      </datalist>
      {choice.commands.map((name, index) => (
        <div key={index} className="flex gap-2">
          <input
            className="input"
            list="command-templates"
            aria-label={`Command template of command run ${index + 1}`}
            value={name}
            placeholder="template name"
            onChange={(e) => setAt(index, e.target.value)}
          />
          <button type="button" className="btn" onClick={() => setAt(index, null)}>
            Remove<span className="sr-only"> command run {index + 1}</span>
          </button>
        </div>
      ))}
      <button type="button" className="btn" onClick={() => onChange({ ...choice, commands: [...choice.commands, ""] })}>
        Add command run
      </button>
    </fieldset>
  );
}

interface PickerProps {
  choice: ExecutorChoice;
  profiles: ModelProfile[];
  onChange: (choice: ExecutorChoice) => void;
}

/** Pick the executors: each becomes one run of the same instruction. */
export function ExecutorPicker(props: PickerProps) {
  return (
    <div className="space-y-4">
      <CliAgents {...props} />
      <DirectModels {...props} />
      <CommandRuns choice={props.choice} onChange={props.onChange} />
    </div>
  );
}
