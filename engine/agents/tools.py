"""The tools Claude is made to call, one pydantic model each.

The same model gives the JSON schema sent to the API (``tool()``) and checks the reply
(``check()``), so what the prompt asks for and what the agent accepts cannot drift apart.
A failed check comes back as plain sentences ("'hypothesis' is empty") that the corrective
retry sends to Claude.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, ClassVar, Literal, Self

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError


def _non_empty(text: str) -> str:
    if not text.strip():
        raise ValueError("is empty")
    return text


Text = Annotated[str, AfterValidator(_non_empty)]
"""A string with something in it."""


class ToolReply(BaseModel):
    """A tool's input as Claude sends it; subclasses name the tool and describe each field."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    tool_name: ClassVar[str]
    tool_description: ClassVar[str]

    @classmethod
    def tool(cls) -> dict[str, Any]:
        """The tool definition for ``messages.create(tools=[...])``.

        Returns
        -------
        dict
            ``name``, ``description`` and ``input_schema`` (the model's JSON schema, titles
            removed).
        """
        schema = cls.model_json_schema()
        schema.pop("title", None)
        for prop in schema.get("properties", {}).values():
            prop.pop("title", None)
        return {"name": cls.tool_name, "description": cls.tool_description, "input_schema": schema}

    @classmethod
    def check(cls, raw: Any) -> tuple[Self | None, list[str]]:
        """The reply validated, or None and what is wrong with it, one sentence per problem.

        Parameters
        ----------
        raw
            The tool input as the API returned it.

        Returns
        -------
        tuple of (reply or None, list of str)
            The validated reply and no problems, or None and the problems.
        """
        try:
            return cls.model_validate(raw), []
        except ValidationError as exc:
            required = ", ".join(name for name, f in cls.model_fields.items() if f.is_required())
            return None, [_sentence(error, required) for error in exc.errors()]


def _sentence(error: Any, required: str) -> str:
    where = error["loc"][0] if error["loc"] else None
    kind, given = error["type"], error.get("input")
    if where is None:
        return f"the tool input must be a JSON object with {required}; got {type(given).__name__}"
    if kind == "missing":
        return f"{where!r} is missing"
    if kind == "list_type" or len(error["loc"]) > 1:  # blind_spots, or one of its items
        return f"{where!r} must be a list of strings"
    if kind == "string_type":
        return f"{where!r} must be a string; got {type(given).__name__}"
    if kind == "literal_error":
        return f"{where!r} must be {error['ctx']['expected']}; got {given!r}"
    if kind == "value_error":
        return f"{where!r} {error['ctx']['error']}"
    return f"{where!r}: {error['msg']}"


def _kebab(label: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")[:40]


class Plan(ToolReply):
    """The orchestrator's decision: one change, why, and what the coder should do."""

    tool_name = "plan_next_step"
    tool_description = (
        "Decide the single next change to try. A separate coder, who sees only your hypothesis, your "
        "instructions, the contract and the current file, will write the file."
    )
    hypothesis: Text = Field(description="One sentence: the change and the measurable result you expect.")
    rationale: Text = Field(
        description=(
            "Why this step now, citing the history (iteration numbers, verdicts, the reviewer's words) "
            "and PROGRAM.md. Two to five sentences."
        )
    )
    instructions: Text = Field(
        description=(
            "Concrete instructions for the coder: which terms, priors, likelihood or keys to change, "
            "starting from the current file. Everything else stays as it is."
        )
    )
    label: Annotated[str, AfterValidator(_kebab)] = Field(
        default="", description="A short kebab-case name for the idea, e.g. 'separate-arms' or 'trim-overlap'."
    )


class ModelSubmission(ToolReply):
    """The coder's complete model.py."""

    tool_name = "submit_model"
    tool_description = "Submit the complete new model.py (the whole file, not a diff)."
    hypothesis: Text = Field(description="The hypothesis this file tests, in one sentence.")
    rationale: Text = Field(description="What you changed in the file and why, in two or three sentences.")
    source: Text = Field(description="The complete Python source of model.py.")


class AnalysisSubmission(ToolReply):
    """The coder's complete analysis.toml."""

    tool_name = "submit_analysis"
    tool_description = "Submit the complete new analysis.toml (the whole file, not a diff)."
    hypothesis: Text = Field(description="The hypothesis this spec tests, in one sentence.")
    rationale: Text = Field(description="What you changed in the spec and why, in two or three sentences.")
    toml: Text = Field(description="The complete TOML text of analysis.toml.")


def _lower(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


class ProposalReview(ToolReply):
    """The reviewer's reading of a proposal before the principal decides."""

    tool_name = "submit_proposal_review"
    tool_description = "Submit a short structured review of the proposal, before the principal decides on it."
    advice: Annotated[Literal["approve", "approve with care", "do not approve"], BeforeValidator(_lower)]
    estimand: Text = Field(
        description="Whether the file still answers the contract's estimand for its population, or how it drifts."
    )
    roles: Text = Field(
        description="Any column used against its stated role (a forbidden or pre-treatment-only column, a filter "
        "on a post-treatment variable), or 'none'."
    )
    hypothesis: Text = Field(description="Whether the code implements the stated hypothesis, and what differs.")
    overfitting: Text = Field(description="The risk that the change fits noise: parameters added against the data.")
    summary: Text = Field(description="One sentence for the principal.")

    def text(self) -> str:
        """The review as the lines the review screen shows and the record keeps.

        Returns
        -------
        str
        """
        return "\n".join(
            [
                f"Advice: {self.advice}. {self.summary.strip()}",
                f"Estimand: {self.estimand.strip()}",
                f"Roles: {self.roles.strip()}",
                f"Hypothesis: {self.hypothesis.strip()}",
                f"Overfitting: {self.overfitting.strip()}",
            ]
        )


class CritiqueReply(ToolReply):
    """The critic's short structured review of a verdict."""

    tool_name = "submit_critique"
    tool_description = "Submit a short structured review of the latest verdict."
    credibility: Annotated[Literal["high", "medium", "low"], BeforeValidator(_lower)]
    evidence: Text = Field(
        description="The diagnostics and numbers behind the credibility rating, in one to three sentences."
    )
    estimand: Text = Field(
        description="What this estimate measures, and how it differs from the contract's estimand, if at all."
    )
    blind_spots: Annotated[list[str], AfterValidator(lambda spots: [s for s in spots if s.strip()])] = Field(
        description="What the analysis cannot see or rule out (confounders, misfit, measurement)."
    )
    alternative: Text = Field(description="At least one alternative measurement or modelling strategy worth trying.")
    summary: Text = Field(description="One sentence for the reviewer.")

    def text(self) -> str:
        """The review as the short text the record stores and the screens show.

        Returns
        -------
        str
            One line each for credibility (with its evidence), estimand, every blind spot,
            alternative and summary.
        """
        lines = [
            f"Credibility: {self.credibility}. {self.evidence.strip()}",
            f"Estimand: {self.estimand.strip()}",
            "Blind spots:" if self.blind_spots else "Blind spots: none named.",
            *[f"- {s.strip()}" for s in self.blind_spots],
            f"Alternative: {self.alternative.strip()}",
            f"Summary: {self.summary.strip()}",
        ]
        return "\n".join(lines)
