"""What a run executes: the executor kinds and their options, as run-api accepts them and
agent-runner reads them back (one typed contract for both sides).

run-api stores a run's spec as columns (`executor_type`, `model`, `model_profile_id`,
`options`); `executor_spec` rebuilds the typed spec from them.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter


class ExecutorModel(BaseModel):
    """Base of the executor specs: unknown fields are an error."""

    model_config = ConfigDict(extra="forbid", frozen=True)


ModelName = Annotated[
    str, StringConstraints(min_length=1, max_length=120, pattern=r"^[A-Za-z0-9._:/-]+$")
]


class BudgetedOptions(ExecutorModel):
    """Options every model-calling executor shares: the run's own spending cap."""

    # USD for the whole run (all turns); the worker's own cap applies too, the lower wins.
    budget_usd: float | None = Field(default=None, gt=0, le=100_000)


class ClaudeCodeOptions(BudgetedOptions):
    """Options of the Claude Code CLI."""

    max_turns: int | None = Field(default=None, ge=1, le=500)
    allowed_tools: list[Annotated[str, StringConstraints(max_length=200)]] | None = Field(
        default=None, max_length=50
    )


class CodexOptions(BudgetedOptions):
    """Options of the Codex CLI."""

    sandbox: Literal["workspace-write", "read-only"] = "workspace-write"


class GeminiOptions(BudgetedOptions):
    """Options of the Gemini CLI."""


class LlmOptions(BudgetedOptions):
    """Options of a direct model call."""

    max_tokens: int = Field(default=8192, ge=1, le=200_000)
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)


class CommandOptions(ExecutorModel):
    """Options of a command-line agent: a template the operator configured."""

    template: Annotated[
        str, StringConstraints(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.-]+$")
    ]


class ClaudeCodeExecutor(ExecutorModel):
    """Claude Code, headless."""

    type: Literal["claude_code"]
    model: ModelName | None = None
    model_profile_id: UUID | None = None
    options: ClaudeCodeOptions = Field(default_factory=ClaudeCodeOptions)


class CodexExecutor(ExecutorModel):
    """OpenAI Codex CLI (`codex exec`)."""

    type: Literal["codex"]
    model: ModelName | None = None
    model_profile_id: UUID | None = None
    options: CodexOptions = Field(default_factory=CodexOptions)


class GeminiExecutor(ExecutorModel):
    """Google Gemini CLI."""

    type: Literal["gemini"]
    model: ModelName | None = None
    model_profile_id: UUID | None = None
    options: GeminiOptions = Field(default_factory=GeminiOptions)


class LlmExecutor(ExecutorModel):
    """A direct model call with a model profile's key; the runner applies the patch."""

    type: Literal["llm"]
    model: ModelName | None = None
    model_profile_id: UUID
    options: LlmOptions = Field(default_factory=LlmOptions)


class CommandExecutor(ExecutorModel):
    """Any command-line agent, from an operator-defined argv template."""

    type: Literal["command"]
    model: ModelName | None = None
    model_profile_id: UUID | None = None
    options: CommandOptions


ExecutorSpec = Annotated[
    ClaudeCodeExecutor | CodexExecutor | GeminiExecutor | LlmExecutor | CommandExecutor,
    Field(discriminator="type"),
]

ExecutorOptions = ClaudeCodeOptions | CodexOptions | GeminiOptions | LlmOptions | CommandOptions
EXECUTOR_SPECS = (ClaudeCodeExecutor, CodexExecutor, GeminiExecutor, LlmExecutor, CommandExecutor)
# The `type` of each spec, in the order above (the database checks `executor_type` by it).
EXECUTOR_KINDS: tuple[str, ...] = tuple(
    get_args(spec.model_fields["type"].annotation)[0] for spec in EXECUTOR_SPECS
)
_SPEC: TypeAdapter[ExecutorSpec] = TypeAdapter(ExecutorSpec)


def executor_spec(
    kind: str, model: str | None, model_profile_id: UUID | None, options: dict[str, Any]
) -> ExecutorSpec:
    """The typed spec of a stored run (its executor columns)."""
    return _SPEC.validate_python(
        {"type": kind, "model": model, "model_profile_id": model_profile_id, "options": options}
    )
