"""System packages that some tests need (a PostgreSQL server, a Chromium browser).

The README's test command has to run every test for real on a fresh Debian machine, so the test
set-up installs a missing Debian package itself when it can (running as root, with apt-get on
PATH). Where it cannot, the caller skips with the reason returned here, which names what to
install. Each package is tried at most once per test session.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
from functools import cache

_APT_ENV = {"DEBIAN_FRONTEND": "noninteractive"}
_updated = False
_SBIN = ("/usr/local/sbin", "/usr/sbin", "/sbin")


def find_binary(name: str, extra_globs: tuple[str, ...] = ()) -> str | None:
    """`name` on PATH, else the newest match of `extra_globs` (e.g. /usr/lib/postgresql/*/bin)."""
    found = shutil.which(name)
    if found:
        return found
    for pattern in extra_globs:
        matches = sorted(glob.glob(os.path.join(pattern, name)), reverse=True)
        if matches:
            return matches[0]
    return None


@cache
def ensure_debian_package(package: str) -> str | None:
    """Install `package` with apt-get if this process may; None on success, else why not.

    The caller checks for the binary first and calls this only when it is missing.
    """
    global _updated
    if os.name != "posix" or os.geteuid() != 0:
        return (
            f"not root, so the Debian package {package!r} cannot be installed here: "
            f"apt-get install {package}"
        )
    apt = shutil.which("apt-get")
    if apt is None:
        return f"no apt-get on this machine: install {package!r} (the Debian package) by hand"
    env = {**os.environ, **_APT_ENV}
    # dpkg needs ldconfig and start-stop-daemon from the sbin directories, which a minimal PATH
    # (CI runs the README command under `env -i`) leaves out.
    path = env.get("PATH", "").split(os.pathsep)
    env["PATH"] = os.pathsep.join([*filter(None, path),
                                   *(d for d in _SBIN if d not in path)])
    try:
        if not _updated:
            subprocess.run([apt, "update", "-q"], env=env, check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=600)
            _updated = True
        subprocess.run([apt, "install", "-y", "-q", "--no-install-recommends", package],
                       env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       timeout=1200)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
        detail = getattr(exc, "stderr", b"") or b""
        last = detail.decode(errors="replace").strip().splitlines()[-1:] or [str(exc)]
        return f"apt-get install {package} failed ({last[0]}): install it by hand"
    return None


def debian_binary(name: str, package: str, what: str) -> str:
    """The path of ``name`` from the Debian ``package``, installing the package when it is
    missing and this process may; else the test skips with a reason naming ``what`` it
    needs and the package to install."""
    import pytest

    found = find_binary(name)
    if found is None:
        why = ensure_debian_package(package)
        if why is not None:
            pytest.skip(f"needs {what}: {why}")
        found = find_binary(name)
        if found is None:
            pytest.skip(f"apt-get installed {package} but no {name} binary is on PATH")
    return found
