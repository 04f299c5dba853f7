"""The part of `os` the start-up path needs, from the built-in `posix` module.

`import os` costs ~0.6 ms on every command: os imports _collections_abc (some 30 ABCs), stat,
posixpath and genericpath, none of which the bare interpreter loads. The hot modules use this
module instead, under the same name (`from railcar import posixos as os`), so their call sites
read as before: the posix functions and constants re-exported as they are, plus what posix lacks,
written with os's and posixpath's semantics (CPython 3.11) for str arguments:

- getenv(name, default=None): the environment decoded as os.environ decodes it (the filesystem
  encoding, surrogateescape). There is no `environ` here: posix.environ is keyed by bytes.
- path: join, dirname, basename, split, isabs, normpath, abspath, exists, lexists, isfile,
  isdir, islink, realpath (non-strict), as os.path.
- makedirs(name, mode, exist_ok) and walk(top, topdown) (no onerror, never following links), as os's.

Cold code (criu, checkpoint, restore, events, ps, update, features, spec, error wording) may
import the real os inside its functions. tests/unit/test_posixos.py compares every helper with
os and posixpath, and checks that each `os.X` a module using this one names exists here.
"""

from __future__ import annotations

import sys
from posix import (
    CLD_DUMPED,
    CLD_KILLED,
    EFD_CLOEXEC,
    EFD_NONBLOCK,
    F_OK,
    MFD_CLOEXEC,
    O_APPEND,
    O_CLOEXEC,
    O_CREAT,
    O_DIRECTORY,
    O_EXCL,
    O_NOFOLLOW,
    O_NONBLOCK,
    O_PATH,
    O_RDONLY,
    O_RDWR,
    O_TRUNC,
    O_WRONLY,
    P_PID,
    R_OK,
    W_OK,
    WEXITED,
    WEXITSTATUS,
    WIFEXITED,
    WIFSIGNALED,
    WNOHANG,
    WNOWAIT,
    WTERMSIG,
    X_OK,
    _exit,
    _path_normpath,
    access,
    chmod,
    close,
    dup,
    dup2,
    eventfd,
    fstat,
    fsync,
    getcwd,
    getegid,
    geteuid,
    getpid,
    getppid,
    isatty,
    kill,
    killpg,
    listdir,
    lseek,
    lstat,
    makedev,
    memfd_create,
    mkdir,
    mkfifo,
    open,
    pidfd_open,
    pipe2,
    pread,
    read,
    readlink,
    rename,
    rmdir,
    scandir,
    set_blocking,
    stat,
    strerror,
    sysconf,
    uname,
    unlink,
    waitid,
    waitpid,
    write,
)
from posix import environ as _environb

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = [
    "CLD_DUMPED", "CLD_KILLED", "EFD_CLOEXEC", "EFD_NONBLOCK", "F_OK", "MFD_CLOEXEC", "O_APPEND",
    "O_CLOEXEC", "O_CREAT", "O_DIRECTORY", "O_EXCL", "O_NOFOLLOW", "O_NONBLOCK", "O_PATH", "O_RDONLY",
    "O_RDWR", "O_TRUNC", "O_WRONLY", "P_PID", "R_OK", "SEEK_CUR", "SEEK_END", "SEEK_SET", "W_OK",
    "WEXITED", "WEXITSTATUS", "WIFEXITED", "WIFSIGNALED", "WNOHANG", "WNOWAIT", "WTERMSIG", "X_OK",
    "_exit", "access", "chmod", "close", "dup", "dup2", "eventfd", "fstat", "fsync", "getcwd",
    "getegid", "getenv", "geteuid", "getpid", "getppid", "isatty", "kill", "killpg", "listdir",
    "lseek", "lstat", "makedev", "makedirs", "memfd_create", "mkdir", "mkfifo", "open", "path",
    "pidfd_open", "pipe2", "pread", "read", "readlink", "rename", "rmdir", "scandir", "sep", "set_blocking", "stat",
    "strerror", "sysconf", "uname", "unlink", "waitid", "waitpid", "walk", "write",
]

SEEK_SET = 0
SEEK_CUR = 1
SEEK_END = 2
sep = "/"

_S_IFMT = 0o170000
_S_IFDIR = 0o040000
_S_IFREG = 0o100000
_S_IFLNK = 0o120000

_FS_ENCODING = sys.getfilesystemencoding()


def getenv(name: str, default: str | None = None) -> str | None:
    """os.getenv: the variable decoded as os.environ decodes it, or `default`."""
    value = _environb.get(name.encode(_FS_ENCODING, "surrogateescape"))
    if value is None:
        return default
    return value.decode(_FS_ENCODING, "surrogateescape")


# -- os.path (posixpath's algorithms, for str) -------------------------------------------------
def isabs(s: str) -> bool:
    return s.startswith("/")


def join(a: str, *p: str) -> str:
    path = a
    for b in p:
        if b.startswith("/"):
            path = b
        elif not path or path.endswith("/"):
            path += b
        else:
            path += "/" + b
    return path


def split(p: str) -> tuple[str, str]:
    i = p.rfind("/") + 1
    head, tail = p[:i], p[i:]
    if head and head != "/" * len(head):
        head = head.rstrip("/")
    return head, tail


def basename(p: str) -> str:
    return p[p.rfind("/") + 1:]


def dirname(p: str) -> str:
    head = p[:p.rfind("/") + 1]
    if head and head != "/" * len(head):
        head = head.rstrip("/")
    return head


def normpath(path: str) -> str:
    return _path_normpath(path) or "."


def abspath(path: str) -> str:
    if not path.startswith("/"):
        path = join(getcwd(), path)
    return normpath(path)


def exists(path: str) -> bool:
    try:
        stat(path)
    except (OSError, ValueError):
        return False
    return True


def lexists(path: str) -> bool:
    try:
        lstat(path)
    except (OSError, ValueError):
        return False
    return True


def isfile(path: str) -> bool:
    try:
        st = stat(path)
    except (OSError, ValueError):
        return False
    return st.st_mode & _S_IFMT == _S_IFREG


def isdir(s: str) -> bool:
    try:
        st = stat(s)
    except (OSError, ValueError):
        return False
    return st.st_mode & _S_IFMT == _S_IFDIR


def islink(path: str) -> bool:
    try:
        st = lstat(path)
    except (OSError, ValueError, AttributeError):
        return False
    return st.st_mode & _S_IFMT == _S_IFLNK


def realpath(filename: str) -> str:
    """posixpath.realpath(filename) (strict=False): symlinks resolved, a missing component or a
    loop left as it stands."""
    path, _ok = _joinrealpath("", filename, {})
    return abspath(path)


def _joinrealpath(path: str, rest: str, seen: dict[str, str | None]) -> tuple[str, bool]:
    if rest.startswith("/"):
        rest = rest[1:]
        path = "/"
    while rest:
        name, _, rest = rest.partition("/")
        if not name or name == ".":
            continue
        if name == "..":
            if path:
                path, name = split(path)
                if name == "..":
                    path = join(path, "..", "..")
            else:
                path = ".."
            continue
        newpath = join(path, name)
        try:
            st = lstat(newpath)
        except OSError:
            is_link = False
        else:
            is_link = st.st_mode & _S_IFMT == _S_IFLNK
        if not is_link:
            path = newpath
            continue
        if newpath in seen:
            resolved = seen[newpath]
            if resolved is not None:
                path = resolved
                continue
            # not resolved yet: a loop; the resolved part and the rest as they stand
            return join(newpath, rest), False
        seen[newpath] = None
        path, ok = _joinrealpath(path, readlink(newpath), seen)
        if not ok:
            return join(path, rest), False
        seen[newpath] = path
    return path, True


class path:  # noqa: N801 - os.path's name
    """os.path's str helpers: `os.path.join(...)` where `os` is this module."""

    sep = "/"
    isabs = staticmethod(isabs)
    join = staticmethod(join)
    split = staticmethod(split)
    basename = staticmethod(basename)
    dirname = staticmethod(dirname)
    normpath = staticmethod(normpath)
    abspath = staticmethod(abspath)
    exists = staticmethod(exists)
    lexists = staticmethod(lexists)
    isfile = staticmethod(isfile)
    isdir = staticmethod(isdir)
    islink = staticmethod(islink)
    realpath = staticmethod(realpath)


# -- os.makedirs, os.walk -----------------------------------------------------------------------
def makedirs(name: str, mode: int = 0o777, exist_ok: bool = False) -> None:
    """os.makedirs: the leaf and every missing parent (parents with the default mode)."""
    head, tail = split(name)
    if not tail:
        head, tail = split(head)
    if head and tail and not exists(head):
        try:
            makedirs(head, exist_ok=exist_ok)
        except FileExistsError:  # created by another process meanwhile
            pass
        if tail == ".":  # xxx/newdir/. exists if xxx/newdir exists
            return
    try:
        mkdir(name, mode)
    except OSError:
        # not only EEXIST: the system may report EACCES or EROFS first
        if not exist_ok or not isdir(name):
            raise


def walk(top: str, topdown: bool = True) -> Iterator[tuple[str, list[str], list[str]]]:
    """os.walk(top, topdown) with onerror=None, followlinks=False: unreadable directories skipped,
    symlinks to directories listed but not entered."""
    dirs: list[str] = []
    nondirs: list[str] = []
    walk_dirs: list[str] = []
    try:
        entries = scandir(top)
    except OSError:
        return
    with entries:
        while True:
            try:
                try:
                    entry = next(entries)
                except StopIteration:
                    break
            except OSError:
                return
            try:
                is_dir = entry.is_dir()
            except OSError:
                is_dir = False
            if is_dir:
                dirs.append(entry.name)
            else:
                nondirs.append(entry.name)
            if not topdown and is_dir:
                try:
                    is_symlink = entry.is_symlink()
                except OSError:
                    is_symlink = False
                if not is_symlink:
                    walk_dirs.append(entry.path)
    if topdown:
        yield top, dirs, nondirs
        for d in dirs:
            new_path = join(top, d)
            if not islink(new_path):  # checked now: the caller may have replaced it meanwhile
                yield from walk(new_path, topdown)
    else:
        for new_path in walk_dirs:
            yield from walk(new_path, topdown)
        yield top, dirs, nondirs
