"""Appending to and removing from a list in a ruamel.yaml document without misplacing comments.

ruamel.yaml keeps the comment lines after a list's last entry with that entry, though they
usually introduce what follows the list (the next section's explanation). When the list gets
another last entry, those lines go with it, so they stay where they were in the file.
"""

from __future__ import annotations

import copy
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq


def append(entries: CommentedSeq, entry: CommentedMap) -> None:
    """Add `entry` at the end of `entries`; the comment lines that followed the list still do."""
    entries.append(entry)
    if len(entries) > 1:
        _carry_following_comment(entries, len(entries) - 2, len(entries) - 1)


def remove(entries: CommentedSeq, entry: CommentedMap) -> None:
    """Take `entry` out of `entries`; the comment lines that followed the list still do."""
    index = next(n for n, candidate in enumerate(entries) if candidate is entry)
    if index == len(entries) - 1 and index > 0:
        _carry_following_comment(entries, index, index - 1)
    del entries[index]


def _carry_following_comment(entries: CommentedSeq, source: int, target: int) -> None:
    """Move the comment lines after entry `source` to after entry `target`; an end-of-line comment
    stays with its line."""
    found = [slot for slot in _comment_slots(entries, source) if _token(*slot) is not None]
    if not found:
        return
    node, key, position = found[-1]
    token = _token(node, key, position)
    end_of_line, _, following = token.value.partition("\n")
    if not following.strip():
        return
    moved = copy.copy(token)
    if end_of_line:
        token.value = end_of_line + "\n"
    else:
        node.ca.items[key][position] = None
    target_node, target_key, target_position = _comment_slots(entries, target)[-1]
    comments = target_node.ca.items.setdefault(target_key, [None, None, None, None])
    if comments[target_position] is None:
        moved.value = "\n" + following
        comments[target_position] = moved
    else:
        comments[target_position].value += following


def _comment_slots(entries: CommentedSeq, index: int) -> list[tuple[Any, Any, int]]:
    """Where ruamel.yaml may keep the comment after entry `index`: after the entry, then after its
    last value, down through block collections (in a flow collection it would land inside it)."""
    slots: list[tuple[Any, Any, int]] = [(entries, index, 0)]
    node = entries[index]
    while isinstance(node, CommentedMap | CommentedSeq) and node and not node.fa.flow_style():
        key, position = (len(node) - 1, 0) if isinstance(node, CommentedSeq) else (list(node)[-1], 2)
        slots.append((node, key, position))
        node = node[key]
    return slots


def _token(node: Any, key: Any, position: int) -> Any:
    comment = node.ca.items.get(key)
    return comment[position] if comment and len(comment) > position else None
