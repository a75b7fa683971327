"""A directory that appears complete or not at all: filled under a hidden sibling name, then renamed.

TF Serving polls `<base>/<model>/` and loads any directory named by a number as soon as it sees it. An
export filled in place can therefore be loaded without its warm-up file, or, after a failure, without
`assets.extra/schema.json`. Filled under `.<version>.partial-...` (a name that is not a number) and
renamed when complete, a version directory exists only whole.
"""

import contextlib
import os
import secrets
import shutil
from typing import Iterator


@contextlib.contextmanager
def staged_directory(target: str) -> Iterator[str]:
    """Yields a new empty sibling of `target` to fill; renames it to `target` when the block completes.

    On any exception (Ctrl-C included) the sibling is removed and `target` is left as it was.

    Args:
        target: the directory to publish; it may exist only as an empty directory.

    Returns:
        A context manager yielding the staging directory's path.

    Raises:
        FileExistsError: `target` exists and is not an empty directory (checked before anything is written).

    Example:

    >>> import tempfile
    >>> version = os.path.join(tempfile.mkdtemp(), "model", "1")
    >>> with staged_directory(version) as staging:
    ...     os.path.exists(version)
    ...     open(os.path.join(staging, "saved_model.pb"), "w").close()
    False
    >>> os.listdir(os.path.dirname(version)), os.listdir(version)
    (['1'], ['saved_model.pb'])
    """
    check_free(target)
    parent, name = os.path.split(os.path.abspath(target))
    os.makedirs(parent, exist_ok=True)
    staging = os.path.join(parent, f".{name}.partial-{os.getpid()}-{secrets.token_hex(4)}")
    os.mkdir(staging)  # the umask's permissions, as the version directory would have had
    try:
        yield staging
        os.rename(staging, os.path.join(parent, name))  # atomic; fails if another export published it meanwhile
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def check_free(target: str) -> None:
    if os.path.lexists(target) and not (os.path.isdir(target) and not os.listdir(target)):
        raise FileExistsError(f"{target} already exists; choose a new version directory")
