"""Files written whole or not at all, with the permissions a plain ``open()`` would give them.

Writers write to a hidden temporary file beside the target and rename it into place, so a reader
never sees half a file. ``tempfile.mkstemp`` creates that file 0600 whatever the umask, and the
rename keeps the mode: a model directory written that way cannot be read by a serving image that
runs as another user ("Permission denied" on ``metadata.json``). :func:`give_normal_mode` sets
the mode ``open()`` would have given (0666 less the process umask: 0644 under the usual 022), so
whoever wants private files still gets them by setting the umask, as with any other tool.
"""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

_STATUS = Path("/proc/self/status")
_UMASK_LOCK = threading.Lock()


def current_umask() -> int:
    """The process umask, read without changing it where Linux shows it (``/proc``)."""
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    # Elsewhere the only way to read it is to set it and put it back; the lock keeps this
    # module's own threads from seeing the interim value.
    with _UMASK_LOCK:
        mask = os.umask(0o077)
        os.umask(mask)
    return mask


def normal_file_mode() -> int:
    """The mode ``open()`` gives a new file: 0666 less the umask."""
    return 0o666 & ~current_umask()


def give_normal_mode(path: str | os.PathLike[str]) -> None:
    """Set ``path``'s mode to what ``open()`` would have created it with (see the module doc)."""
    os.chmod(path, normal_file_mode())


def write_atomically(path: Path, write: Callable[[Path], object]) -> None:
    """Write ``path`` through a temporary file in its directory, then rename: never a half file.

    ``write`` writes the content to the temporary path it is given. The file ends with the mode
    a plain ``open()`` would give it, not ``mkstemp``'s 0600. On any exception the temporary
    file is removed and the exception propagates; ``path`` is then as it was.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    os.close(handle)
    try:
        write(Path(temporary))
        give_normal_mode(temporary)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
