"""Undoing the previous install of a group (the agent's ``<group>-cleanup`` file).

The file lists, oldest first, every path the last Install created, each
written before the path existed; undoing removes them newest first, never
through a link (see :func:`run_cleanup`). hdhooks adds marked lines,
``semanage\\0PATH``, for SELinux contexts to remove. ``<group>-cleanup-aside``
(hdhooks' own) lists the last install's directories renamed aside, as
``.<name>.<random>.hdhooks-old`` beside them, until they are deleted
(:mod:`hdhooks.agent.aside`).
"""

from __future__ import annotations

import os

from hdhooks.agent import permissions as perms
from hdhooks.agent.aside import Deferred, move_aside
from hdhooks.agent.layout import Layout
from hdhooks.agent.listing import SEMANAGE_MARK, Parents, read_cleanup


def cleanup_would_remove(entries: list[str]) -> list[str]:
    """Paths that :func:`run_cleanup` would remove (for dry runs): files and links,
    and directories that would be empty once those are gone."""
    removed: set[str] = set()
    for entry in reversed(entries):
        if entry.startswith(SEMANAGE_MARK):
            continue
        path = entry
        if os.path.islink(path) or (os.path.exists(path) and not os.path.isdir(path)):
            removed.add(path)
        elif os.path.isdir(path):
            children = {os.path.join(path, n) for n in os.listdir(path)}
            if children <= removed:
                removed.add(path)
    return sorted(removed)


def run_cleanup(layout: Layout) -> Deferred:
    """Undo the last install of this group, newest entry first.

    Nothing is removed through a link: an entry whose directories (those the
    install made, or any link not owned by root or this user) were replaced by
    a symbolic link is left alone, and the last component is removed with
    ``unlink``/``rmdir`` relative to its parent's descriptor. A directory is
    judged once, however many entries it holds.

    A directory the last install made whose whole content it also made (the
    usual case: the destination itself) is not emptied here but renamed aside
    in one step (:class:`Deferred`); the new files are then created before
    the old ones are deleted. The end state is the agent's; the removal no
    longer delays the copies (on ext4 without a journal, a file created just
    after many were deleted costs several times more).
    """
    deferred = Deferred(layout.aside_file)
    deferred.earlier = deferred.finish()  # what a killed run renamed aside and left
    entries = read_cleanup(layout.cleanup_file)
    order = list(dict.fromkeys(e for e in entries if not e.startswith(SEMANAGE_MARK)))
    made = set(order)
    parents = Parents(made)
    try:
        moved = move_aside(order, made, parents, deferred)
        for entry in reversed(entries):
            if entry.startswith(SEMANAGE_MARK):
                perms.remove_selinux_context(entry[len(SEMANAGE_MARK):])
                continue
            if _under(entry, moved):
                continue
            try:
                parents.remove(entry)
            except OSError:
                pass  # a directory someone else put files in stays, as with the agent
    finally:
        parents.close()
    if os.path.lexists(layout.cleanup_file):
        os.unlink(layout.cleanup_file)
    return deferred


def _under(path: str, roots: set[str]) -> bool:
    """Whether ``path`` is one of ``roots`` or inside one."""
    while path and path != "/":
        if path in roots:
            return True
        path = os.path.dirname(path)
    return False


