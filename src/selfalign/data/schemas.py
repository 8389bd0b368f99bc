"""Record schemas of every dataset the pipeline writes, and file validation against them.

Fields may grow, never silently change meaning. Unknown fields are refused (``extra="forbid"``) on every
record and on closed sub-objects (QC flags, constraints, checks) so a typo fails loudly; genuinely open
bags (generation params, constraint params, judge details) are plain dicts.
Non-finite floats are refused everywhere: JSON cannot carry them and pyarrow would fail later.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from selfalign.constraints import all_types, validate_constraint
from selfalign.data.jsonl import PathLike, iter_jsonl
from selfalign.errors import DataError

# The constraint types shared across the project: one registry (selfalign.constraints), never a copy.
CONSTRAINT_TYPES: tuple[str, ...] = tuple(sorted(all_types()))


class _Record(BaseModel):
    # strict: a JSON value of the wrong type is an error, never coerced ("true" is not a boolean).
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, strict=True)


class Constraint(_Record):
    """One verifiable constraint: ``{"type": <name>, "params": {...}}`` (params checked by constraints/)."""

    type: str = Field(description="constraint type name, one of CONSTRAINT_TYPES")
    params: dict[str, Any] = Field(default_factory=dict, description="type-specific parameters")

    @field_validator("type")
    @classmethod
    def _known_type(cls, v: str) -> str:
        if v not in CONSTRAINT_TYPES:
            raise ValueError(f"unknown constraint type {v!r}")
        return v

    @model_validator(mode="after")
    def _valid_params(self) -> Constraint:
        try:  # params are checked by the type's own schema in the registry
            validate_constraint({"type": self.type, "params": self.params})
        except DataError as e:
            raise ValueError(str(e).split(": ", 1)[-1]) from None
        return self


class Instruction(_Record):
    """A task for the model. Seed/hand-written instructions have ``prompt`` and ``gen`` set to null."""

    id: str = Field(min_length=1, description="stable unique id")
    text: str = Field(min_length=1, description="the instruction itself, stripped")
    category: str = Field(min_length=1, description="task category, used to stratify the held-out split")
    source: str = Field(min_length=1, description='where it came from, e.g. "seed", "generated", "augmented"')
    prompt: str | None = Field(
        description="exact prompt string sent to the model that wrote it; null if none"
    )
    gen: dict[str, Any] | None = Field(description="generation params incl. seed; null if not generated")
    constraints: list[Constraint] | None = Field(default=None, description="verifiable constraints, if any")
    wording: Literal["seen", "unseen"] | None = Field(
        default=None,
        description='held-out items: "unseen" when the constraints are phrased with wordings training never '
        'used (constraints.heldout_wording), "seen" with the training wordings; null elsewhere',
    )


class QCFlags(_Record):
    """Quality flags of a response (rules in selfalign.data.qc). True means the problem is present."""

    runaway: bool
    truncated: bool
    too_short: bool
    echo: bool
    repetitive: bool = False  # added after the first datasets were written; absent there means not checked
    degenerate: bool = False  # added 2026-12-06 (issue 26's steered samples); absent means not checked
    empty: bool


class Response(_Record):
    """The model's answer to one instruction."""

    id: str = Field(min_length=1, description="stable unique id")
    instruction_id: str = Field(min_length=1, description="id of the instruction answered")
    instruction: str = Field(min_length=1, description="the instruction text (copied for readability)")
    prompt: str = Field(min_length=1, description="exact prompt string sent to the model")
    raw: str = Field(description="everything generated, before cutting at a stop string")
    text: str = Field(description="the answer: raw cut at the first stop string, stripped")
    stop_reason: Literal["stop", "eos", "length", "dead_end"] = Field(
        description="why generation ended (dead_end: a steered row's steers left no token to pick)"
    )
    n_tokens: int = Field(ge=0, description="tokens generated")
    qc: QCFlags
    category: str | None = Field(default=None, description="the instruction's category")
    constraints: list[Constraint] | None = Field(default=None, description="the instruction's constraints")
    gen: dict[str, Any] | None = Field(default=None, description="generation params incl. seed")


class Judgment(_Record):
    """The critic's verdict on one or two items, judged in every option order.

    ``prompts[k]`` is the exact critic prompt of order ``k`` and ``logp[k]`` maps each option label (e.g.
    ``"A"``, ``"B"``) to its log-probability under that prompt.
    """

    id: str = Field(min_length=1)
    item_ids: list[str] = Field(min_length=1, description="ids of the judged responses/items")
    scorer: str = Field(min_length=1, description="which critic and version produced this")
    prompts: list[str] = Field(min_length=1, description="exact critic prompt per order")
    logp: list[dict[str, float]] = Field(min_length=1, description="option -> log-prob, one map per order")
    p_good: float = Field(ge=0.0, le=1.0, description="probability the (first) item is the good one")
    margin: float = Field(description="signed confidence margin derived from logp")
    orders_agree: bool = Field(description="every order preferred the same item")
    confident: bool = Field(description="orders agree and |margin| passes the critic's threshold")

    @model_validator(mode="after")
    def _one_logp_per_prompt(self) -> Judgment:
        if len(self.logp) != len(self.prompts):
            raise ValueError(f"logp has {len(self.logp)} orders but prompts has {len(self.prompts)}")
        for k, scores in enumerate(self.logp):
            if not scores:
                raise ValueError(f"logp[{k}] has no options")
            bad = [o for o, v in scores.items() if v > 1e-6]
            if bad:
                raise ValueError(f"logp[{k}][{bad[0]!r}] is positive; log-probabilities are <= 0")
        return self


class SFTExample(_Record):
    """Prompt/completion text exactly as trained: only ``completion`` tokens carry loss."""

    prompt: str = Field(min_length=1)
    completion: str = Field(min_length=1)
    id: str | None = None
    source: str | None = None


class PreferencePair(_Record):
    """A DPO pair; both answers come from the model, ranked by the critic with ``margin``."""

    prompt: str = Field(min_length=1)
    chosen: str = Field(min_length=1)
    rejected: str = Field(min_length=1)
    margin: float = Field(description="critic margin of chosen over rejected")
    source: str = Field(min_length=1, description="how the pair was formed")
    id: str | None = None
    scorer: str | None = None
    instruction_id: str | None = None
    rejected_ended: bool = Field(
        default=True,
        description="false: the rejected answer ran to the token limit without ending; DPO trains it as it "
        "was generated, with no end delimiter or EOS, so pushing it down does not push down ending",
    )

    @model_validator(mode="after")
    def _different(self) -> PreferencePair:
        if self.chosen == self.rejected:
            raise ValueError("chosen and rejected are identical")
        return self


class CheckOutcome(_Record):
    """One verifiable check of an eval output."""

    type: str = Field(min_length=1)
    passed: bool
    detail: str | None = None
    params: dict[str, Any] | None = None


class EvalItem(_Record):
    """One held-out item answered under one condition (base zero-shot, base few-shot, sft, dpo, ...)."""

    id: str = Field(min_length=1, description="held-out item id (the same across conditions)")
    condition: str = Field(min_length=1)
    category: str = Field(min_length=1)
    prompt: str = Field(min_length=1, description="exact prompt sent")
    output: str
    checks: list[CheckOutcome] = Field(description="verifiable checks; empty when the item has none")
    passed: bool | None = Field(description="overall verdict; null when undecided")
    judge: dict[str, Any] | None = Field(description="critic verdict where checks do not decide; else null")
    ifeval: dict[str, Any] | None = Field(
        default=None, description="IFEval-style strict/loose verdicts per constraint; null when open-ended"
    )


KINDS: dict[str, type[BaseModel]] = {
    "instruction": Instruction,
    "response": Response,
    "judgment": Judgment,
    "sft": SFTExample,
    "pair": PreferencePair,
    "eval": EvalItem,
}


class ValidationErrors(DataError):
    """Several bad lines in one file; the message is the first, ``errors`` holds them all (in file order)."""

    def __init__(self, errors: Sequence[DataError]) -> None:
        first = errors[0]
        # The first error is already formatted; reuse its text and location rather than rebuilding it.
        Exception.__init__(self, str(first))
        self.path, self.line, self.field = first.path, first.line, first.field
        self.errors = list(errors)


def _error(path: PathLike, line: int | None, err: Any) -> DataError:
    return DataError(path, line, field_path(err["loc"]), str(err["msg"]).removeprefix("Value error, "))


def field_path(loc: Sequence[int | str]) -> str | None:
    """Pydantic's error location as a path: ``("constraints", 0, "type")`` → ``constraints[0].type``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or None


def model_for(kind: str) -> type[BaseModel]:
    """The schema class of a record kind: instruction, response, judgment, sft, pair or eval."""
    try:
        return KINDS[kind]
    except KeyError:
        raise DataError(
            "<kind>", None, None, f"unknown record kind {kind!r}; one of {sorted(KINDS)}"
        ) from None


def validate_record(
    record: dict[str, Any], kind: str, path: PathLike = "<record>", line: int | None = None
) -> BaseModel:
    """Validate one record; raise :class:`DataError` naming the first bad field."""
    try:
        return model_for(kind).model_validate(record)
    except ValidationError as e:
        raise _error(path, line, e.errors()[0]) from None


def validate_file(path: PathLike, kind: str, *, max_errors: int = 1) -> list[BaseModel]:
    """Read ``path`` and validate every line as ``kind``; return the parsed records.

    Ids (where a record has one) must be unique within the file; eval items by (id, condition).
    With ``max_errors > 1`` validation continues after the first bad line and :class:`ValidationErrors`
    carries up to that many errors; its one-line message is always the first. JSON-level errors (bad
    UTF-8, malformed line) stop at once.
    """
    model = model_for(kind)
    errors: list[DataError] = []
    out: list[BaseModel] = []
    seen_ids: dict[str, int] = {}
    for lineno, rec in iter_jsonl(path):
        try:
            parsed = model.model_validate(rec)
        except ValidationError as e:
            errors.extend(_error(path, lineno, d) for d in e.errors())
        else:
            rid = getattr(parsed, "id", None)
            if rid is not None and kind == "eval":  # one item answered under several conditions
                rid = f"{rid} under condition {parsed.condition!r}"
            if rid is not None and rid in seen_ids:
                dup = {"loc": ("id",), "msg": f"duplicate id {rid!r} (first on line {seen_ids[rid]})"}
                errors.append(_error(path, lineno, dup))
            elif rid is not None:
                seen_ids[rid] = lineno
            out.append(parsed)
        if len(errors) >= max_errors:
            break
    if errors:
        raise ValidationErrors(errors[:max_errors])
    if not out:
        raise DataError(path, None, None, "empty file: no records")
    return out
