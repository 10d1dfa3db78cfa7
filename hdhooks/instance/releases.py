"""Releases on an instance: ``<base>/releases/<deployment-id>`` and one ``current`` link.

Layout (see docs/releases.md)::

    <base>/incoming/            the appspec ``files`` destination (the agent's territory)
    <base>/releases/<id>/       one complete release per deployment
    <base>/current -> releases/<id>

AfterInstall *promotes* ``incoming`` into a release: it is copied to a
temporary directory next to the releases, prepared there (config rendered),
and renamed into place, so a release directory is always complete. The
filesystem is synced once before that rename, so the name never reaches the
disk before the files it holds. The ``current`` link is switched with one
atomic rename. Pruning (BeforeInstall) keeps the newest releases and never
removes the current or the previous one.
Release order comes from a sequence number written into each release, not
from names or clocks.
"""

from __future__ import annotations

import json
import os
import re
import stat
import time
from collections.abc import Callable
from pathlib import Path

from hdhooks import fsremove, fstree
from hdhooks.errors import CheckFailed, UsageError
from hdhooks.fsutil import (
    atomic_symlink,
    atomic_write,
    fsync_dir,
    remove_stale_temps,
    sync_filesystem,
    temp_name,
)
from hdhooks.record import Record

MARKER = ".hdhooks-release"
RELEASE_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")


class Release(Record):
    """One release directory. ``seq`` orders releases by promotion."""

    id: str
    path: Path
    seq: int
    created: float


def check_release_id(release_id: str) -> str:
    """A deployment id usable as a directory name (no '/', no '..')."""
    if not RELEASE_ID_RE.fullmatch(release_id) or release_id in (".", ".."):
        raise UsageError(
            f"'{release_id}' cannot name a release: use letters, digits, '.', '_' or '-'"
        )
    return release_id


class ReleaseStore:
    """The releases of one component under ``base_dir``."""

    def __init__(self, base_dir: str | os.PathLike[str],
                 *, clock: Callable[[], float] = time.time) -> None:
        self.base_dir = Path(base_dir)
        self.releases_dir = self.base_dir / "releases"
        self.current_link = self.base_dir / "current"
        self.incoming_dir = self.base_dir / "incoming"
        self._clock = clock
        #: How the last :meth:`promote` made its files ("copied", "hard-linked N, ...").
        self.last_copy = ""

    # --- reading --------------------------------------------------------
    def releases(self) -> list[Release]:
        """Every complete release, oldest first."""
        found: list[Release] = []
        try:
            entries = sorted(os.scandir(self.releases_dir), key=lambda e: e.name)
        except FileNotFoundError:
            return []
        for entry in entries:
            if entry.name.startswith(".") or not entry.is_dir(follow_symlinks=False):
                continue
            found.append(self._read(Path(entry.path)))
        return sorted(found, key=lambda r: (r.seq, r.created, r.id))

    def _read(self, path: Path) -> Release:
        try:
            with open(path / MARKER, encoding="utf-8") as fh:
                data = json.load(fh)
            return Release(path.name, path, int(data["seq"]), float(data["created"]))
        except (OSError, ValueError, KeyError, TypeError):
            # A release made by hand or damaged: order it by its mtime, first.
            return Release(path.name, path, 0, path.stat().st_mtime)

    def get(self, release_id: str) -> Release | None:
        path = self.releases_dir / check_release_id(release_id)
        return self._read(path) if path.is_dir() else None

    def current(self) -> Release | None:
        """The release ``current`` points at, if any."""
        try:
            target = os.readlink(self.current_link)
        except (FileNotFoundError, OSError):
            return None
        name = Path(target).name
        path = self.releases_dir / name
        return self._read(path) if RELEASE_ID_RE.fullmatch(name) and path.is_dir() else None

    def previous(self) -> Release | None:
        """The newest release promoted before the current one (what rollback goes to)."""
        cur = self.current()
        if cur is None:
            return None
        older = [r for r in self.releases() if (r.seq, r.created, r.id) < (cur.seq, cur.created,
                                                                           cur.id)]
        return older[-1] if older else None

    # --- changing -------------------------------------------------------
    def promote(
        self,
        release_id: str,
        source: str | os.PathLike[str] | None = None,
        *,
        prepare: Callable[[Path], None] | None = None,
        reader_gid: int | None = None,
    ) -> Release:
        """Copy ``source`` (default ``incoming``) into ``releases/<release_id>``.

        ``prepare(dir)`` runs on the not-yet-visible copy (render config into
        it); if it raises, nothing is left behind. Promoting an id again
        replaces that release unless it is the current one. ``reader_gid``
        (the service's group, when it runs as another user) is given read
        access to what root copied (see :func:`grant_group_read`). A given
        ``source`` is the revision the agent unpacked, which nothing writes to
        afterwards: its files may be hard-linked (see :func:`copy_tree`);
        ``incoming``, which the agent's Install writes into, is always copied.
        ``last_copy`` then says which was done.
        """
        check_release_id(release_id)
        src = Path(source) if source is not None else self.incoming_dir
        if not src.is_dir():
            raise CheckFailed(
                f"nothing to promote: {src} is not a directory",
                hint="the appspec 'files' section must install the revision there",
            )
        final = self.releases_dir / release_id
        cur = self.current()
        if cur is not None and cur.id == release_id:
            raise CheckFailed(f"release {release_id} is the current release; "
                              "it cannot be replaced while in use")
        self._make_dirs()
        remove_stale_temps(self.releases_dir)
        work = temp_name(final)
        try:
            gid = reader_gid if reader_gid is not None and os.geteuid() == 0 else None
            self.last_copy = copy_tree(src, work, reader_gid=gid,
                                       may_link=source is not None).how()
            if prepare is not None:
                prepare(work)
            marker = {"deployment_id": release_id, "seq": self._next_seq(),
                      "created": self._clock(), "source": str(src)}
            atomic_write(work / MARKER, json.dumps(marker) + "\n", mode=0o644)
            # The copy has no per-file fsync: one filesystem sync makes the
            # files durable before the rename names the release.
            sync_filesystem(work)
            if final.exists():
                fsremove.remove_tree(str(final))
            os.rename(work, final)
        except BaseException:
            fsremove.remove_tree(str(work), ignore_errors=True)
            raise
        fsync_dir(self.releases_dir)
        return self._read(final)

    def _make_dirs(self) -> None:
        """The base and releases directories, 0755 whatever the umask.

        A service user must be able to walk to ``current``; a hardened umask
        (027) would otherwise make them root's alone.
        """
        for directory in (self.base_dir, self.releases_dir):
            if not directory.is_dir():
                directory.mkdir(parents=True, exist_ok=True)
                os.chmod(directory, 0o755)

    def _next_seq(self) -> int:
        return max((r.seq for r in self.releases()), default=0) + 1

    def activate(self, release_id: str) -> Release:
        """Point ``current`` at ``release_id`` in one atomic rename."""
        release = self.get(release_id)
        if release is None:
            raise CheckFailed(f"no release {release_id} under {self.releases_dir}")
        if self.current_link.is_dir() and not self.current_link.is_symlink():
            raise CheckFailed(f"{self.current_link} is a real directory, not a link",
                              hint="move it away once; hdhooks manages it as a link")
        atomic_symlink(Path("releases") / release_id, self.current_link)
        return release

    def rollback(self) -> tuple[Release | None, Release]:
        """Switch ``current`` to the previous release; returns (from, to).

        Restarting and validating the service is the caller's job.
        """
        cur = self.current()
        prev = self.previous()
        if prev is None:
            where = f"before {cur.id}" if cur else "(no current release)"
            raise CheckFailed(f"no previous release to roll back to {where} "
                              f"in {self.releases_dir}")
        self.activate(prev.id)
        return cur, prev

    def prune(self, keep: int, *, reserve: int = 0) -> list[Release]:
        """Remove old releases so that ``keep - reserve`` remain; returns the removed ones.

        BeforeInstall passes ``reserve=1`` to leave room for the release the
        deployment is about to add. The current and previous releases are
        always kept, whatever ``keep`` says.
        """
        releases = self.releases()
        protected = {r.id for r in (self.current(), self.previous()) if r is not None}
        # The protected releases count towards the budget; the newest others fill it.
        room = max(keep - reserve - len(protected), 0)
        kept_newest = {r.id for r in [r for r in releases if r.id not in protected][::-1][:room]}
        removed: list[Release] = []
        for release in releases:
            if release.id in protected or release.id in kept_newest:
                continue
            # Renamed to a temporary name first: a release whose removal stops
            # (a mount inside it) is no release any more, never chosen for a
            # rollback, and each later prune tries again (remove_stale_temps).
            doomed = temp_name(release.path)
            try:
                os.rename(release.path, doomed)
            except FileNotFoundError:
                continue
            fsremove.remove_tree(str(doomed), ignore_errors=True)
            removed.append(release)
        remove_stale_temps(self.releases_dir)
        if removed:
            fsync_dir(self.releases_dir)
        return removed


def copy_tree(src: Path, dst: Path, *, reader_gid: int | None = None,
              may_link: bool = False) -> fstree.Copied:
    """The revision copied into a release without following a link (links stay
    links), modes, times and (as root) owners kept: the owners the appspec
    ``permissions`` set on ``incoming`` carry over. The first failure is raised
    naming the destination, so the hook's line reads ``No space left on device:
    <file>``; a FIFO or device in the revision is refused.

    One pass per file: the service's group read access (``reader_gid``, see
    :func:`grant_group_read`) is set on the copy as it is made. Reflinks are
    used where the filesystem has them (a write to either side copies the
    block). With ``may_link``, a file is hard-linked instead of copied only
    when sharing its inode cannot matter: a regular file owned by root,
    writable by no one else, not setuid/setgid, whose metadata the release
    does not change. A service user can then write neither name, templates
    and the marker replace a name (rename) rather than write through it, and
    the agent later only deletes the revision, which leaves the release's
    name intact.
    """
    adjust = None if reader_gid is None else _group_read(reader_gid)

    def link(st: os.stat_result) -> bool:
        return (st.st_uid == 0 and not st.st_mode & 0o6022
                and (adjust is None or adjust(st) is None))

    return fstree.copy_tree(str(src), str(dst), owners=True, adjust=adjust,
                            link=link if may_link and os.geteuid() == 0 else None, clone=True)


def _group_read(gid: int) -> Callable[[os.stat_result], fstree.Meta | None]:
    """:func:`grant_group_read`'s change for one entry, as copy metadata."""
    def adjust(st: os.stat_result) -> fstree.Meta | None:
        if stat.S_ISLNK(st.st_mode) or st.st_uid != 0 or st.st_gid != 0:
            return None
        return fstree.Meta(_group_mode(st), -1, gid, after=False)

    return adjust


def _group_mode(st: os.stat_result) -> int:
    mode = stat.S_IMODE(st.st_mode) & ~stat.S_IWGRP | stat.S_IRGRP
    if stat.S_ISDIR(st.st_mode) or st.st_mode & stat.S_IXUSR:
        mode |= stat.S_IXGRP
    return mode


def target_of(exc: OSError) -> str | None:
    """The destination of a failed copy (``filename2``), else its file."""
    return exc.filename2 or exc.filename


def grant_group_read(root: Path, gid: int) -> None:
    """Let group ``gid`` read what root copied into a release; never write it.

    The agent unpacks the revision as root with the archive's modes, and a
    build made under a strict umask gives 0600 files: a service running as
    its own user could not read its jar. Files and directories owned by
    root:root get the service's group, read (and, for directories and
    executables, search/execute) for it, and no group write, so the code
    stays root's. Anything the appspec ``permissions`` gave another owner or
    group is left as it is; symlinks are not followed.
    """
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [".", *dirnames, *filenames]:
            path = os.path.normpath(os.path.join(dirpath, name))
            st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode) or st.st_uid != 0 or st.st_gid != 0:
                continue
            os.chown(path, -1, gid, follow_symlinks=False)
            os.chmod(path, _group_mode(st))


# --- files rendered outside the release ------------------------------------------
#: Where a release keeps the files its templates replaced outside it.
OUTSIDE_DIR = ".hdhooks-outside"


def save_outside(release: Path, destinations: list[str]) -> None:
    """Keep a copy of each absolute destination as it is now, inside ``release``.

    A template rendered to /etc/nginx/sites-enabled/api.conf replaces the file
    the running server works with; if ``service.check_command`` then refuses
    the new one, :func:`restore_outside` puts the copy back. A destination
    that does not exist yet is recorded as absent (removed on restore).
    """
    outside = [d for d in destinations if os.path.isabs(d)]
    if not outside:
        return
    keep = release / OUTSIDE_DIR
    keep.mkdir(mode=0o700)
    entries: list[dict[str, object]] = []
    for n, dest in enumerate(outside):
        try:
            st = os.lstat(dest)
        except FileNotFoundError:
            entries.append({"path": dest, "saved": None})
            continue
        if not stat.S_ISREG(st.st_mode):
            continue  # a link or a directory is not hdhooks' to put back
        with open(dest, "rb") as fh:
            atomic_write(keep / str(n), fh.read(), mode=0o600)
        entries.append({"path": dest, "saved": str(n), "mode": stat.S_IMODE(st.st_mode),
                        "uid": st.st_uid, "gid": st.st_gid})
    atomic_write(keep / "manifest.json", json.dumps(entries) + "\n", mode=0o600)


def restore_outside(release: Path) -> list[str]:
    """Put back what :func:`save_outside` kept for ``release``; the paths restored."""
    keep = release / OUTSIDE_DIR
    try:
        with open(keep / "manifest.json", encoding="utf-8") as fh:
            entries = json.load(fh)
    except (OSError, ValueError):
        return []
    restored: list[str] = []
    for entry in entries if isinstance(entries, list) else []:
        path = str(entry.get("path", ""))
        if not os.path.isabs(path):
            continue
        if entry.get("saved") is None:
            if os.path.lexists(path):
                os.unlink(path)
                restored.append(path)
            continue
        data = (keep / str(entry["saved"])).read_bytes()
        owner = entry.get("uid") if os.geteuid() == 0 else None
        group = entry.get("gid") if os.geteuid() == 0 else None
        atomic_write(path, data, mode=int(entry.get("mode", 0o644)), owner=owner, group=group)
        restored.append(path)
    return restored
