"""Loading a scenario: YAML safely, ``extends:``, ``--set`` overrides, defaults, validation.

Ciw's order: read the YAML safely (no language tags, no key given twice, bounded nesting),
resolve ``extends:`` (a preset name or a path, merged key by key), apply ``--set KEY=VALUE``
overrides, *fill defaults* (values segments inherit), then *validate*. Unknown keys are errors
that suggest the closest valid key; each error names the file, the dotted key path and what is
allowed (:class:`simlib.errors.ScenarioError`).

Plug-in names (coverage policies, offer kinds) are not checked here: that needs the runtime and
happens at its boundary (:mod:`simlib.plugins`; ``simlib.load_scenario`` does both).
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

import yaml
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from ..errors import ScenarioError
from ..io import resources
from .base import MAX_DEPTH, ByKey
from .limits import allocation_problems
from .population import Population
from .renewal import ChurnConfig, Contracts
from .satisfaction import Satisfaction
from .scenario import DEFAULTS, Scenario

__all__ = [
    "apply_overrides",
    "deep_merge",
    "fill_defaults",
    "load_scenario",
    "parse_yaml",
    "preset_dir",
    "preset_names",
    "scenario_hash",
    "to_yaml",
    "validate",
]

# --------------------------------------------------------------------------------------------
# YAML: safe, unique plain keys, bounded nesting and alias expansion

#: Nodes that aliases (``*name``) may add to a document once expanded, all aliases together. A
#: scenario reusing a segment or two by alias stays far below it (a segment is about 30 nodes);
#: an "alias bomb" (aliases of aliases, each level multiplying the size) is refused while the
#: document is read, before anything walks the expanded tree.
MAX_ALIAS_NODES = 10_000

#: YAML 1.2 floats with an exponent that PyYAML's YAML 1.1 reads as text (``1e12``, ``1.5e3``,
#: ``-2E-7``: no dot, or no sign after the ``e``), so that they are numbers, as they look
_FLOAT_EXPONENT = re.compile(r"^[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)[eE][-+]?[0-9]+$")
_MERGE_TAG = "tag:yaml.org,2002:merge"


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader that also rejects a key given twice in one mapping, a key that is not
    a plain value (a list or a mapping as a key), recursive aliases and aliases expanding past
    :data:`MAX_ALIAS_NODES` nodes."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._alias_nodes = 0
        self._sizes: dict[int, int] = {}  # expanded size of each anchored node, by id
        self._open: set[str] = set()  # anchors whose node is still being read

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            node = self.anchors.get(event.anchor)
            if node is not None:
                self._count_alias(event, node)
            return super().compose_node(parent, index)
        anchor = getattr(self.peek_event(), "anchor", None)
        if anchor is None:
            return super().compose_node(parent, index)
        self._open.add(anchor)
        try:
            return super().compose_node(parent, index)
        finally:
            self._open.discard(anchor)

    def _count_alias(self, event: Any, node: yaml.Node) -> None:
        if event.anchor in self._open:
            raise yaml.composer.ComposerError(
                None,
                None,
                f"alias *{event.anchor} refers to a node that holds it (a recursive structure)",
                event.start_mark,
            )
        self._alias_nodes += _expanded_size(node, self._sizes)
        if self._alias_nodes > MAX_ALIAS_NODES:
            raise yaml.composer.ComposerError(
                None,
                None,
                f"aliases expand to more than {MAX_ALIAS_NODES:,} nodes (at "
                f"*{event.anchor}); write the values out, or reuse fewer",
                event.start_mark,
            )


def _expanded_size(node: yaml.Node, sizes: dict[int, int]) -> int:
    """Nodes in ``node`` once every alias in it is expanded (memoized by node: linear time)."""
    known = sizes.get(id(node))
    if known is not None:
        return known
    total = 1
    if isinstance(node, yaml.SequenceNode):
        total += sum(_expanded_size(child, sizes) for child in node.value)
    elif isinstance(node, yaml.MappingNode):
        total += sum(_expanded_size(k, sizes) + _expanded_size(v, sizes) for k, v in node.value)
    sizes[id(node)] = total
    return total


def _construct_mapping(
    loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False
) -> dict:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        if key_node.tag == _MERGE_TAG:  # ``<<: *base``, merged by construct_mapping
            continue
        if isinstance(key_node, (yaml.SequenceNode, yaml.MappingNode)):
            kind = "list" if isinstance(key_node, yaml.SequenceNode) else "mapping"
            text = _node_text(key_node)
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"key {text} is a {kind}; a key must be a plain name",
                key_node.start_mark,
            )
        key = loader.construct_object(key_node, deep=deep)
        try:
            given_twice = key in seen
        except TypeError:  # an unhashable value (a !!set or a !!binary tag turned into one)
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"key {_node_text(key_node)} is not a plain name",
                key_node.start_mark,
            ) from None
        if given_twice:
            raise yaml.constructor.ConstructorError(
                None, None, f"key {key!r} is given twice", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


def _node_text(node: yaml.Node) -> str:
    """The text of ``node`` in the document (cut to 60 characters), for messages."""
    mark, end = node.start_mark, node.end_mark
    text = mark.buffer[mark.pointer : end.pointer] if mark.buffer is not None else ""
    text = " ".join(text.split()) or "?"
    return repr(text if len(text) <= 60 else text[:57] + "...")


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_UniqueKeyLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float", _FLOAT_EXPONENT, list("-+0123456789.")
)


def parse_yaml(text: str, source: str) -> Any:
    """Parse YAML safely (no language tags, no duplicate keys) or raise :class:`ScenarioError`."""
    try:
        doc = yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader subclass
    except RecursionError:
        raise ScenarioError(source, [("", f"nested more than {MAX_DEPTH} levels deep")]) from None
    except yaml.YAMLError as exc:
        where = ""
        mark = getattr(exc, "problem_mark", None)
        if mark is not None:
            where = f" (line {mark.line + 1}, column {mark.column + 1})"
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        if "could not determine a constructor" in str(exc):
            problem = "language-specific YAML tags (such as !!python/object) are not allowed"
        raise ScenarioError(source, [("", f"not valid YAML{where}: {problem}")]) from None
    _check_depth(doc, source)
    return doc


def _check_depth(doc: Any, source: str) -> None:
    """Reject documents nested deeper than any scenario needs (before anything recurses)."""
    stack = [(doc, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ScenarioError(source, [("", f"nested more than {MAX_DEPTH} levels deep")])
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node)


# --------------------------------------------------------------------------------------------
# Files, presets and extends


def preset_dir() -> Path:
    """Folder of the preset scenarios (package data, see :mod:`simlib.io.resources`)."""
    return resources.preset_dir()


def preset_names() -> list[str]:
    """Names of the preset scenarios."""
    return resources.preset_names()


def _resolve_ref(ref: str, relative_to: Path | None) -> Path:
    """A scenario reference: a path to a YAML file, or a preset name."""
    candidates: list[Path] = []
    path = Path(ref)
    if path.suffix in (".yaml", ".yml") or "/" in ref or "\\" in ref:
        if not path.is_absolute() and relative_to is not None:
            candidates.append(relative_to / path)
        candidates.append(path)
    else:
        candidates.append(preset_dir() / f"{ref}.yaml")
    for c in candidates:
        if c.is_file():
            return c
    if len(candidates) == 1 and candidates[0].parent == preset_dir():
        names = preset_names()
        close = difflib.get_close_matches(ref, names, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ScenarioError(
            ref, [("", f"no such file or preset{hint}; presets: {', '.join(names)}")]
        )
    raise ScenarioError(ref, [("", "no such file")])


def _read_document(path: Path) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ScenarioError(str(path), [("", f"cannot read file: {exc.strerror}")]) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ScenarioError(str(path), [("", "not a UTF-8 text file")]) from None
    doc = parse_yaml(text, str(path))
    if doc is None:
        raise ScenarioError(str(path), [("", "the file is empty; a scenario is a YAML mapping")])
    if not isinstance(doc, dict):
        raise ScenarioError(
            str(path), [("", f"a scenario is a YAML mapping, got {type(doc).__name__}")]
        )
    return doc


#: Suffix of a key whose value replaces the inherited one instead of being merged into it
#: (``addons!: {...}`` in a scenario that ``extends:`` another; see :func:`deep_merge`).
REPLACE_SUFFIX = "!"


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """``override`` merged into a copy of ``base``, mapping by mapping (lists are replaced).

    A key written with the suffix ``!`` (``addons!``) replaces the value of ``base`` under
    ``addons`` with its own instead of merging into it, so an inherited mapping (a catalogue,
    the segments) can lose entries. Marked keys left anywhere else are read without the ``!``
    (:func:`resolve_replace`).
    """
    out = resolve_replace(copy.deepcopy(base))
    for key, value in override.items():
        if isinstance(key, str) and key.endswith(REPLACE_SUFFIX):
            out[key[: -len(REPLACE_SUFFIX)]] = resolve_replace(copy.deepcopy(value))
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = resolve_replace(copy.deepcopy(value))
    return out


def resolve_replace(doc: Any) -> Any:
    """``doc`` with every ``key!`` read as ``key`` (in place; nothing left to replace)."""
    if isinstance(doc, list):
        for item in doc:
            resolve_replace(item)
    elif isinstance(doc, dict):
        for key in [k for k in doc if isinstance(k, str) and k.endswith(REPLACE_SUFFIX)]:
            doc[key[: -len(REPLACE_SUFFIX)]] = doc.pop(key)
        for value in doc.values():
            resolve_replace(value)
    return doc


def check_replace_keys(doc: Any, source: str) -> None:
    """Refuse a ``!`` key with no name (``!``, ``name!!``) and a key given both plain and
    marked in one mapping (``addons`` and ``addons!``), naming each key path."""
    problems: list[tuple[str, str]] = []
    stack: list[tuple[Any, str]] = [(doc, "")]
    while stack:
        node, where = stack.pop()
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, value in items:
            path = f"{where}.{key}" if where else str(key)
            if isinstance(node, dict) and isinstance(key, str) and key.endswith(REPLACE_SUFFIX):
                name = key[: -len(REPLACE_SUFFIX)]
                if not name or name.endswith(REPLACE_SUFFIX):
                    problems.append(
                        (
                            path,
                            "a '!' after a key name (name!) replaces the "
                            "inherited value; give one name and one '!'",
                        )
                    )
                elif name in node:
                    problems.append(
                        (path, f"given both as {name!r} (merged) and {key!r} (replaced); keep one")
                    )
            if isinstance(value, (dict, list)):
                stack.append((value, path))
    if problems:
        raise ScenarioError(source, sorted(problems))


def _resolve_data_paths(doc: dict[str, Any], folder: Path) -> None:
    """Make a relative ``population.from_csv`` absolute, against ``folder`` (in place)."""
    pop = doc.get("population")
    if isinstance(pop, dict) and isinstance(pop.get("from_csv"), str) and pop["from_csv"]:
        csv_path = Path(pop["from_csv"]).expanduser()
        if not csv_path.is_absolute():
            pop["from_csv"] = str((folder / csv_path).resolve())


def _load_with_extends(path: Path, chain: tuple[Path, ...] = ()) -> dict[str, Any]:
    resolved = path.resolve()
    if resolved in chain:
        cycle = " -> ".join(str(p) for p in (*chain, resolved))
        raise ScenarioError(str(path), [("extends", f"extends itself in a cycle: {cycle}")])
    doc = _read_document(path)
    check_replace_keys(doc, str(path))
    _resolve_data_paths(doc, path.parent)
    parent_ref = doc.pop("extends", None)
    if parent_ref is None:
        return doc
    if not isinstance(parent_ref, str) or not parent_ref:
        raise ScenarioError(
            str(path), [("extends", f"must be a preset name or a path, got {parent_ref!r}")]
        )
    parent_path = _resolve_ref(parent_ref, path.parent)
    parent = _load_with_extends(parent_path, (*chain, resolved))
    return deep_merge(parent, doc)


# --------------------------------------------------------------------------------------------
# Overrides and defaults


def apply_overrides(
    doc: dict[str, Any], overrides: list[str] | None, source: str
) -> dict[str, Any]:
    """Apply ``KEY=VALUE`` overrides (dotted key, YAML value) to a copy of a scenario mapping."""
    out = copy.deepcopy(doc)
    for item in overrides or []:
        if "=" not in item:
            raise ScenarioError(source, [("--set", f"expected KEY=VALUE, got {item!r}")])
        key, _, text = item.partition("=")
        key = key.strip()
        parts = key.split(".")
        if not key or any(not p for p in parts):
            raise ScenarioError(source, [("--set", f"invalid key {key!r}")])
        value = parse_yaml(text, f"--set {key}")
        node = out
        for depth, part in enumerate(parts[:-1]):
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                where = ".".join(parts[: depth + 1])
                raise ScenarioError(source, [(key, f"{where} is a value, not a mapping")])
            node = child
        node[parts[-1].removesuffix(REPLACE_SUFFIX)] = value  # a --set value always replaces
    return out


def fill_defaults(doc: dict[str, Any], filled: set[str] | None = None) -> dict[str, Any]:
    """Fill what depends on other keys: the default segment and per-segment inherited values.

    Runs after overrides and before validation, so ``--set churn.monthly.alpha=..`` reaches every
    segment that does not override it, and ``resolved.yaml`` shows each value actually used.
    ``filled`` (if given) collects the key paths filled in, whose errors are the user's elsewhere.
    """
    out = deep_merge(DEFAULTS, doc) if isinstance(doc, dict) else copy.deepcopy(doc)
    pop = out.setdefault("population", {})
    if not isinstance(pop, dict):
        return out  # validation reports it
    mrr = pop.get("mrr", Population.model_fields["mrr"].default)
    if pop.get("segments") is None:
        pop["segments"] = {"all": {"share": 1.0, "plans": {"standard": mrr}}}
    segments = pop["segments"]
    if not isinstance(segments, dict):
        return out
    inherited: dict[str, dict[str, Any]] = {
        block: cast("dict[str, Any]", out.get(block)) if isinstance(out.get(block), dict) else {}
        for block in ("churn", "satisfaction", "contracts")
    }
    for seg_name, seg in segments.items():
        if isinstance(seg, dict):
            _fill_segment(seg, f"population.segments.{seg_name}", inherited, mrr, filled)
    return out


def _fill_segment(
    seg: dict[str, Any],
    where: str,
    inherited: dict[str, dict[str, Any]],
    mrr: Any,
    filled: set[str] | None,
) -> None:
    """Fill one segment's inherited values (churn and its tenure profile, fit, annual share,
    plans, plan mix) in place."""
    churn, sat, contracts = (inherited[b] for b in ("churn", "satisfaction", "contracts"))
    found: set[str] = set()
    seg_churn = seg.setdefault("churn", {}) or {}
    seg["churn"] = seg_churn
    if isinstance(seg_churn, dict):
        defaults = ChurnConfig()
        for kind in ("monthly", "annual", "tenure_profile"):
            base = churn.get(kind) or getattr(defaults, kind).model_dump()
            if isinstance(seg_churn.get(kind), dict) and isinstance(base, dict):
                seg_churn[kind] = deep_merge(base, seg_churn[kind])
            if seg_churn.get(kind) is None:
                seg_churn[kind] = copy.deepcopy(base)
                found.add(f"{where}.churn.{kind}")
    if seg.get("fit") is None:
        seg["fit"] = copy.deepcopy(sat.get("fit") or Satisfaction().fit.model_dump())
        found.add(f"{where}.fit")
    if seg.get("annual_share") is None:
        seg["annual_share"] = contracts.get(
            "annual_share", Contracts.model_fields["annual_share"].default
        )
        found.add(f"{where}.annual_share")  # an error in it is contracts.annual_share's
    if seg.get("plans") is None:
        seg["plans"] = {"standard": mrr}
        found.add(f"{where}.plans")
    plans = seg.get("plans")
    if isinstance(plans, dict) and plans and seg.get("plan_mix") is None:
        first = next(iter(plans))
        seg["plan_mix"] = {p: (1.0 if p == first else 0.0) for p in plans}
    if filled is not None:
        filled.update(found)


# --------------------------------------------------------------------------------------------
# Errors: dotted key paths, what is allowed, the closest valid key


def _inner_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg
    return None


def _dict_value_model(annotation: Any) -> type[BaseModel] | None:
    for arg in (annotation, *(getattr(annotation, "__args__", ()) or ())):
        if getattr(arg, "__origin__", None) is dict:
            value = arg.__args__[1]
            if isinstance(value, type) and issubclass(value, BaseModel):
                return value
    return None


def _keyed(field: FieldInfo) -> ByKey | None:
    """The :class:`ByKey` of a mapping whose values' model depends on their key, if any."""
    return next((m for m in field.metadata if isinstance(m, ByKey)), None)


def _owner_model(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """Model owning the last key of ``loc``, skipping dict keys (segment names, kind names)."""
    model: type[BaseModel] = Scenario
    i = 0
    while i < len(loc):
        part = loc[i]
        if i == len(loc) - 1:
            return model
        field = model.model_fields.get(part) if isinstance(part, str) else None
        if field is None:
            return None
        keyed = _keyed(field)
        value_model = keyed.model_for(loc[i + 1]) if keyed else _dict_value_model(field.annotation)
        if value_model is not None:
            model = value_model
            i += 2  # skip the dict key
            if i >= len(loc):
                return None
            continue
        inner = _inner_model(field.annotation)
        if inner is not None:
            model = inner
            i += 1
            continue
        return None
    return model


_MESSAGES = {
    "greater_than": "must be > {gt}",
    "greater_than_equal": "must be >= {ge}",
    "less_than": "must be < {lt}",
    "less_than_equal": "must be <= {le}",
    "int_parsing": "must be a whole number",
    "int_type": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_parsing": "must be a number",
    "float_type": "must be a number",
    "finite_number": "must be a finite number",
    "bool_parsing": "must be true or false",
    "bool_type": "must be true or false",
    "string_type": "must be text",
    "string_too_short": "must have at least {min_length} character(s)",
    "string_too_long": "must have at most {max_length} characters",
    "dict_type": "must be a mapping",
    "model_type": "must be a mapping",
    "literal_error": "must be {expected}",
}


def _message(err: Mapping[str, Any]) -> str:
    kind = err["type"]
    template = _MESSAGES.get(kind)
    if template is not None:
        try:
            msg = template.format(**(err.get("ctx") or {}))
        except (KeyError, IndexError):
            msg = err["msg"]
        return f"{msg}, got {_shown(err.get('input'))}"
    msg = err["msg"]
    if msg.startswith("Value error, "):
        return msg[len("Value error, ") :]
    if kind == "missing":
        return "required"
    return f"{msg}, got {_shown(err.get('input'))}"


def _shown(value: Any) -> str:
    """A value as messages show it: its repr, a whole number of more than 15 digits (such as
    ``1e308`` read as a whole number) in scientific notation."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**15:
        digits = str(abs(value))
        sign = "-" if value < 0 else ""
        return f"{sign}{digits[0]}.{digits[1:4]}e+{len(digits) - 1}"
    return repr(value)


def _unknown_key(loc: tuple[Any, ...]) -> str:
    """The message of an unknown key: the closest valid key (or the entries of a mapping by key
    that do have it) and the keys allowed there."""
    owner = _owner_model(loc)
    allowed = sorted(owner.model_fields) if owner else []
    close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    keyed = _keyed_at(loc)
    if keyed is not None and not close:
        having = [k for k, m in keyed.models.items() if loc[-1] in m.model_fields]
        if having:
            which = " and ".join(
                [", ".join(having[:-1]), having[-1]] if len(having) > 1 else having
            )
            hint = f" (a key of {which}, not of {loc[-2]})"
    return f"unknown key{hint}; allowed: {', '.join(allowed)}"


def _keyed_at(loc: tuple[Any, ...]) -> ByKey | None:
    """The mapping by key whose entry ``loc[-2]`` holds the last key of ``loc``, if it is one."""
    if len(loc) < 3 or not isinstance(loc[-3], str):
        return None
    parent = _owner_model(loc[:-2])
    field = parent.model_fields.get(loc[-3]) if parent is not None else None
    return _keyed(field) if field is not None else None


def _format_errors(exc: ValidationError) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    for err in exc.errors(include_url=False):
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        key = ".".join(str(p) for p in loc)
        msg = _unknown_key(loc) if err["type"] == "extra_forbidden" else _message(err)
        problems.append((key, msg))
    return problems


# --------------------------------------------------------------------------------------------
# The entry points


def validate(doc: Any, source: str) -> Scenario:
    """Fill defaults and validate a scenario mapping, or raise :class:`ScenarioError`."""
    if not isinstance(doc, dict):
        raise ScenarioError(
            source, [("", f"a scenario is a YAML mapping, got {type(doc).__name__}")]
        )
    check_replace_keys(doc, source)
    doc = resolve_replace(copy.deepcopy(doc))
    doc.pop("extends", None)
    filled: set[str] = set()
    try:
        scenario = Scenario.model_validate(fill_defaults(doc, filled))
    except ValidationError as exc:
        problems = [
            (key, msg)
            for key, msg in _format_errors(exc)
            if not any(key == f or key.startswith(f + ".") for f in filled)
        ]
        raise ScenarioError(source, problems or _format_errors(exc)) from None
    except (TypeError, AttributeError) as exc:  # pragma: no cover - defensive
        raise ScenarioError(source, [("", f"malformed scenario: {exc}")]) from None
    too_large = allocation_problems(scenario)  # valid key by key, but more than a run holds
    if too_large:
        raise ScenarioError(source, too_large)
    scenario._source_doc = copy.deepcopy(doc)
    scenario._source = source
    return scenario


def load_scenario(
    ref: str | Path | dict[str, Any] | Scenario, overrides: list[str] | None = None
) -> Scenario:
    """Load a scenario from a YAML path, a preset name, a mapping or a Scenario.

    ``overrides`` are ``"dotted.key=YAML value"`` strings applied after ``extends:`` and before
    defaults are filled and the result validated. Plug-in names are not checked (see
    :func:`simlib.plugins.load_scenario`, which is ``simlib.load_scenario``).
    """
    if isinstance(ref, Scenario):
        if not overrides:
            return ref
        source = ref.name
        # overrides reach inherited segment values only through the document the scenario was
        # loaded from (before defaults were filled), if the scenario is unchanged since
        doc = ref._source_doc
        if doc is None or validate(doc, source) != ref:
            doc = ref.model_dump(mode="python")
        doc = copy.deepcopy(doc)
    elif isinstance(ref, dict):
        _check_depth(ref, "<mapping>")
        doc, source = copy.deepcopy(ref), "<mapping>"
        check_replace_keys(doc, source)
        parent_ref = doc.pop("extends", None)
        if parent_ref is not None:
            doc = deep_merge(_load_with_extends(_resolve_ref(str(parent_ref), None)), doc)
    else:
        path = _resolve_ref(str(ref), None)
        doc, source = _load_with_extends(path), str(ref)
    doc = apply_overrides(doc, overrides, source)
    _resolve_data_paths(doc, Path.cwd())  # a path given by --set or a mapping: from here
    return validate(doc, source)


def to_yaml(scenario: Scenario) -> str:
    """The fully resolved scenario as YAML (loading it again gives the same scenario)."""
    return yaml.safe_dump(
        scenario.model_dump(mode="json"), sort_keys=False, allow_unicode=True, width=100
    )


def scenario_hash(scenario: Scenario) -> str:
    """A stable SHA-256 of the resolved scenario (its canonical JSON)."""
    canonical = json.dumps(scenario.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
