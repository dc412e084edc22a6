"""Write our results into a model card's README.md, touching nothing else in it.

A card is YAML metadata between ``---`` lines, then prose. Re-serialising the whole metadata (what
``ModelCard.save`` does) would reformat every hand-written line and lose comments, so the new ``model-index``
is spliced into the YAML text instead: the entries we wrote before (``source.name`` "blip2-bench ...") are cut
out line for line (those for a task, dataset and split we write again; our entries for others stay), ours are
added after the last result, and every other byte stays. The splice is checked by
parsing the new metadata: it must equal the old one with only our entries replaced. Where the layout defeats a
line splice (flow-style YAML, say), the ``model-index`` key alone is rewritten (its values kept, not its
formatting); the prose and the other keys stay byte-identical either way. Finally the Hub's own parser
(huggingface_hub's ``ModelCard``) must read the card and find exactly our results in it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import yaml
from huggingface_hub import ModelCard
from huggingface_hub.repocard import REGEX_YAML_BLOCK
from huggingface_hub.repocard_data import eval_results_to_model_index

from bench.card import is_ours
from bench.errors import BenchError


def model_index_name(content: str, where: str) -> str | None:
    """The model name of a card's existing `model-index`, or None when it has none."""
    data, _ = _metadata(content, where)
    index = _model_index(data, where)
    return index[0].get("name") if index else None


def update_card(content: str, model_name: str, ours: list, where: str) -> str:
    """`content` with its `model-index` results from this tool replaced by `ours` (huggingface_hub
    `EvalResult`s). A card without metadata gets a metadata block in front of its unchanged text."""
    data, match = _metadata(content, where)
    index = _model_index(data, where)
    name = (index[0].get("name") if index else None) or model_name  # a card's own model-index name is kept
    new_entries = eval_results_to_model_index(name, ours)[0]["results"]
    replaced = _replaced({_result_key(e) for e in new_entries})
    kept = [e for e in index[0]["results"] if not replaced(e)] if index else []
    wanted = {**data, "model-index": [{**(index[0] if index else {}), "name": name, "results": kept + new_entries}]}
    if match is None:
        new = "---\n" + _dump({"model-index": wanted["model-index"]}) + "---\n" + content
    else:
        yaml_text = match.group(2)
        new_yaml = _splice(yaml_text, index[0]["results"] if index else [], replaced, new_entries, wanted)
        if new_yaml is None:
            new_yaml = _replace_key(yaml_text, wanted)
        new = content[: match.start(2)] + new_yaml + content[match.end(2):]
    _check_hub_reads(new, ours, where)
    return new


def _result_key(entry: Any) -> tuple:
    """What one model-index result is a result of: task type, dataset type, config and split."""
    task = entry.get("task") if isinstance(entry, dict) else None
    dataset = entry.get("dataset") if isinstance(entry, dict) else None
    task, dataset = (task if isinstance(task, dict) else {}), (dataset if isinstance(dataset, dict) else {})
    return task.get("type"), dataset.get("type"), dataset.get("config"), dataset.get("split")


def _replaced(keys: set[tuple]) -> Callable[[Any], bool]:
    """Which old entries give way: ours (any version) for a task, dataset and split we now write again.
    Hand-written entries always stay, and so do our earlier entries for other datasets."""
    return lambda entry: is_ours(entry) and _result_key(entry) in keys


def _metadata(content: str, where: str) -> tuple[dict[str, Any], Any]:
    match = REGEX_YAML_BLOCK.search(content)
    if match is None:
        return {}, None
    try:
        data = yaml.safe_load(match.group(2))
    except yaml.YAMLError as exc:
        raise BenchError(f"{where}: its metadata (between the --- lines) is not valid YAML "
                         f"({' '.join(str(exc).split())}); fix it first") from None
    if data is None:
        return {}, match
    if not isinstance(data, dict):
        raise BenchError(f"{where}: its metadata is a YAML {type(data).__name__}, not a mapping; fix it first")
    return data, match


def _model_index(data: dict[str, Any], where: str) -> list[dict[str, Any]] | None:
    index = data.get("model-index")
    if index is None:
        return None
    if (not isinstance(index, list) or len(index) != 1 or not isinstance(index[0], dict)
            or not isinstance(index[0].get("results", []), list)):
        raise BenchError(f"{where}: its model-index is not one model with a results list (the form the Hub reads); "
                         "fix it first")
    return [{**index[0], "results": index[0].get("results") or []}]


def _dump(value: Any) -> str:
    return yaml.safe_dump(value, sort_keys=False, allow_unicode=True, default_flow_style=False)


def _parses_to(text: str, wanted: dict[str, Any]) -> bool:
    try:
        return yaml.safe_load(text) == wanted
    except yaml.YAMLError:
        return False


def _last_end(node: yaml.Node) -> int:
    """Where a node's last line ends (its block end_mark may lie further, past comments)."""
    while isinstance(node, yaml.MappingNode | yaml.SequenceNode) and node.value:
        node = node.value[-1][1] if isinstance(node, yaml.MappingNode) else node.value[-1]
    return node.end_mark.index


def _line_end(text: str, index: int) -> int:
    if index > 0 and text[index - 1] == "\n":
        return index
    found = text.find("\n", index)
    return len(text) if found < 0 else found + 1


def _key_nodes(yaml_text: str) -> tuple[yaml.Node, yaml.Node] | None:
    root = yaml.compose(yaml_text, Loader=yaml.SafeLoader)
    if isinstance(root, yaml.MappingNode):
        for key, value in root.value:
            if isinstance(key, yaml.ScalarNode) and key.value == "model-index":
                return key, value
    return None


def _splice(yaml_text: str, old_results: list, replaced: Callable[[Any], bool], new_entries: list,
            wanted: dict[str, Any]) -> str | None:
    """Line splice of the results list; None when the layout does not allow one that parses to `wanted`."""
    newline = "\r\n" if "\r\n" in yaml_text else "\n"
    nodes = _key_nodes(yaml_text)
    if nodes is None:  # no model-index yet: add it after the other keys
        sep = "" if not yaml_text or yaml_text.endswith("\n") else newline
        new = yaml_text + sep + _dump({"model-index": wanted["model-index"]}).rstrip("\n").replace("\n", newline)
        return new if _parses_to(new, wanted) else None
    _, index_node = nodes
    if not isinstance(index_node, yaml.SequenceNode) or index_node.flow_style or not index_node.value:
        return None
    model = index_node.value[0]
    results = next((v for k, v in getattr(model, "value", []) if getattr(k, "value", None) == "results"), None)
    if (not isinstance(results, yaml.SequenceNode) or results.flow_style or not results.value
            or len(results.value) != len(old_results)):
        return None
    regions, indent = [], 0
    for item, entry in zip(results.value, old_results, strict=True):
        dash = item.start_mark.index - 1
        while dash >= 0 and yaml_text[dash] in " \t\r\n":
            dash -= 1
        line_start = yaml_text.rfind("\n", 0, max(dash, 0)) + 1
        if dash < 0 or yaml_text[dash] != "-" or yaml_text[line_start:dash].strip():
            return None
        indent = dash - line_start
        regions.append((line_start, _line_end(yaml_text, _last_end(item)), replaced(entry)))
    insert_at = regions[-1][1]
    kept, cursor = [], 0
    for start, end, cut in regions:
        if cut:  # our old entry for the same task, dataset and split: cut line for line
            kept.append(yaml_text[cursor:start])
            cursor = end
    head, tail = "".join(kept) + yaml_text[cursor:insert_at], yaml_text[insert_at:]
    block = "".join(" " * indent + line for line in _dump(new_entries).splitlines(keepends=True))
    if head and not head.endswith("\n"):
        block = "\n" + block
    if not tail:
        block = block.rstrip("\n")
    new = head + block.replace("\n", newline) + tail if newline != "\n" else head + block + tail
    return new if _parses_to(new, wanted) else None


def _replace_key(yaml_text: str, wanted: dict[str, Any]) -> str:
    """Rewrite the `model-index` key alone (values kept, formatting not), every other byte as it was."""
    nodes = _key_nodes(yaml_text)
    if nodes is None:
        raise BenchError("could not add a model-index to the card's metadata; please report this card's layout")
    key, value = nodes
    start = yaml_text.rfind("\n", 0, key.start_mark.index) + 1
    end = _line_end(yaml_text, _last_end(value))
    block = _dump({"model-index": wanted["model-index"]})
    if end == len(yaml_text) and not yaml_text.endswith("\n"):
        block = block.rstrip("\n")
    new = yaml_text[:start] + block + yaml_text[end:]
    if not _parses_to(new, wanted):
        raise BenchError("could not rewrite the card's model-index and keep its other metadata; "
                         "please report this card's layout")
    return new


def _check_hub_reads(content: str, ours: list, where: str) -> None:
    """huggingface_hub's parser must read the new card and find every result we wrote, equal."""
    try:
        read = ModelCard(content).data.eval_results or []
    except ValueError as exc:
        raise BenchError(f"{where}: the Hub's parser cannot read the card's metadata ({exc}); fix it first") from None
    if [r for r in read if r in ours] != ours:
        raise BenchError(f"{where}: the Hub's parser does not read back the results written; please report this "
                         "card's layout")
