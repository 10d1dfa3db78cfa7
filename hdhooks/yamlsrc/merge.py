"""The one overlay merge of positioned YAML: an environment over the base config,
a component over the manifest's defaults.

Values keep the position where they were written, so a problem in a merged
tree points at the overlay or at the base, wherever the bad value came from.
"""

from __future__ import annotations

from collections.abc import Collection

from hdhooks.yamlsrc.node import YNode


def merge_nodes(base: YNode, over: YNode, *, nested: Collection[str] | None = None,
                null_removes: bool = True, at_over: bool = False) -> YNode:
    """``over`` on top of ``base``: mappings merge by key; anything else is replaced.

    ``nested`` names the keys whose mappings merge in turn (None: every key, at
    every level; the keys' own children are then replaced). With
    ``null_removes`` a null in the overlay removes the key, so an environment
    can go back to the default. The merged mapping takes the position of
    ``base`` (or of ``over`` with ``at_over``).
    """
    if not (base.is_map and over.is_map):
        return over
    value = dict(base.value)
    keys = dict(base.keys)
    for key, child in over.items():
        if null_removes and child.is_null and key in base.value:
            del value[key]
            keys.pop(key, None)
            continue
        if key in base.value and (nested is None or key in nested):
            child = merge_nodes(base.value[key], child, nested=None if nested is None else (),
                                null_removes=null_removes, at_over=at_over)
        value[key] = child
        keys[key] = over.keys.get(key, child)
    where = over if at_over else base
    return YNode("map", value, where.line, where.column, where.path, tag="map", keys=keys)
