import { useState } from "react";
import { criterionLabel, movedUp, unused, without, type Criterion } from "./format";

export interface RulePickerProps {
  /** The rule the ranking used (the server's answer). */
  rule: readonly Criterion[];
  onChange: (rule: Criterion[]) => void;
  /** Back to the server's rule (drops `?rule=`). */
  onReset: () => void;
}

/** Reorder, drop or add criteria of the ranking rule; only criteria the API knows are offered. */
export function RulePicker({ rule, onChange, onReset }: RulePickerProps) {
  const addable = unused(rule);
  const [adding, setAdding] = useState<Criterion | "">("");
  const chosen = adding && addable.includes(adding) ? adding : (addable[0] ?? "");
  return (
    <details className="text-sm" data-testid="rule-picker">
      <summary className="cursor-pointer font-medium">Change the rule</summary>
      <ol className="mt-2 space-y-1">
        {rule.map((criterion, index) => (
          <li key={criterion} className="flex flex-wrap items-center gap-2" data-criterion={criterion}>
            <span className="w-6 text-right">{index + 1}.</span>
            <span className="min-w-40">{criterionLabel(criterion)}</span>
            <button
              type="button"
              className="btn"
              disabled={index === 0}
              onClick={() => onChange(movedUp(rule, criterion))}
            >
              Up<span className="sr-only"> {criterionLabel(criterion)}</span>
            </button>
            <button
              type="button"
              className="btn"
              disabled={rule.length === 1}
              onClick={() => onChange(without(rule, criterion))}
            >
              Drop<span className="sr-only"> {criterionLabel(criterion)}</span>
            </button>
          </li>
        ))}
      </ol>
      <div className="mt-2 flex flex-wrap items-end gap-2">
        {addable.length > 0 && (
          <>
            <div>
              <label htmlFor="rule-add" className="label">
                Criterion to add
              </label>
              <select
                id="rule-add"
                className="input"
                value={chosen}
                onChange={(e) => setAdding(e.target.value as Criterion)}
              >
                {addable.map((c) => (
                  <option key={c} value={c}>
                    {criterionLabel(c)}
                  </option>
                ))}
              </select>
            </div>
            <button type="button" className="btn" onClick={() => chosen && onChange([...rule, chosen])}>
              Add
            </button>
          </>
        )}
        <button type="button" className="btn" onClick={onReset}>
          Server&apos;s rule
        </button>
      </div>
    </details>
  );
}
