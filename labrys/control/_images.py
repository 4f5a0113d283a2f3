"""The docker runtime's images, built here from Debian's own mirror: no registry needed.

No image registry may be reachable, so labrys pulls nothing. It builds two kinds of
image, each once, and finds them again by tag:

1. ``labrys/debian:bookworm``, the base: a Debian 12 root file system made by
   ``debootstrap --variant=minbase`` from the mirror apt already uses on this machine
   (read from ``/etc/apt``; ``--runtime-option mirror=URL`` overrides it) and imported
   as an image. About a minute or more, depending on the mirror.
2. ``labrys/node:<digest>``, one per set of packages: the base, plus what every node
   needs for labrys's own faults (`NODE_PACKAGES`: iptables, Python for the packet
   delay process, libfaketime…), plus the packages the target declares
   (``TargetEntry.packages``). The tag is a digest of that whole recipe, so a target
   whose package list changes gets a new image, and an unchanged one is never rebuilt.
   The node-tools step is the same text in every recipe, so Docker's build cache shares
   that layer between all targets' images.

The packet delay process needs the NetfilterQueue module, which Debian does not
package. Rather than put a compiler in every image, the module the control machine
built for its own Python is copied in, when that Python has the image's version (3.11,
Debian 12's); otherwise the image has none, and a delay fault there is refused.

Builds show their progress (rich) on stderr, since the first run on a machine waits
for them. Images are a cache, not leftovers: `labrys cluster down` keeps them; remove
them with ``docker image rm`` (they carry the label ``labrys.image``).
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Collection, Iterable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from labrys.control._dockerd import locked
from labrys.control._firewall import NODE_PACKAGES
from labrys.errors import ControlError

BASE_IMAGE = "labrys/debian:bookworm"
NODE_REPOSITORY = "labrys/node"
LABEL = "labrys.image"
BUILD_LOCK = Path("/run/labrys/images.lock")
"""Held while a process checks for and builds images."""

SUITE = "bookworm"
IMAGE_PYTHON = (3, 11)
"""The python3 of Debian 12, which the copied NetfilterQueue module must match."""

_INSTALL = ("RUN printf '#!/bin/sh\\nexit 101\\n' > /usr/sbin/policy-rc.d"
            " && chmod +x /usr/sbin/policy-rc.d && apt-get update -qq"
            " && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq"
            " --no-install-recommends {packages} && rm -rf /var/lib/apt/lists/*")
"""One apt step. policy-rc.d keeps package scripts from starting daemons in the build."""


def mirror_from_apt(etc_apt: Path = Path("/etc/apt")) -> str:
    """The URI of the first Debian source in ``etc_apt`` that serves bookworm.

    Reads both the one-line format (``sources.list``, ``*.list``) and deb822
    (``*.sources``).

    Raises:
        ControlError: there is none; says to pass ``--runtime-option mirror=URL``.
    """
    files = [etc_apt / "sources.list", *sorted((etc_apt / "sources.list.d").glob("*"))]
    for path in files:
        try:
            text = path.read_text()
        except OSError:
            continue
        if path.suffix == ".sources":
            for stanza in re.split(r"\n\s*\n", text):
                fields = dict(re.findall(r"^(\w[\w-]*):\s*(.*)$", stanza, re.MULTILINE))
                if SUITE in fields.get("Suites", "").split() and fields.get("URIs"):
                    return fields["URIs"].split()[0]
        else:
            for line in text.splitlines():
                words = re.sub(r"\[[^]]*\]", "", line.split("#")[0]).split()
                if len(words) >= 3 and words[0] == "deb" and words[2] == SUITE:
                    return words[1]
    raise ControlError(f"no Debian {SUITE} source in {etc_apt} to build images from: pass "
                       "--runtime-option mirror=URL (e.g. http://deb.debian.org/debian)")


def recipe(packages: Collection[str]) -> str:
    """The Dockerfile of the node image for ``packages`` (besides `NODE_PACKAGES`)."""
    lines = [f"FROM {BASE_IMAGE}", _INSTALL.format(packages=" ".join(NODE_PACKAGES)),
             "COPY netfilterqueue /usr/lib/python3/dist-packages/netfilterqueue"]
    extra = sorted(set(packages) - set(NODE_PACKAGES))
    if extra:
        lines.append(_INSTALL.format(packages=" ".join(extra)))
    return "\n".join(lines) + "\n"


def _netfilterqueue() -> Path | None:
    """This Python's NetfilterQueue package folder, if it can run on the image's Python."""
    spec = importlib.util.find_spec("netfilterqueue")
    if spec is None or not spec.submodule_search_locations or (
            sys.version_info[:2] != IMAGE_PYTHON):
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _context(packages: Collection[str]) -> tuple[bytes, str]:
    """The build context (a tar: Dockerfile, the NetfilterQueue folder) and its digest."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        dockerfile = recipe(packages).encode()
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(dockerfile)
        tar.addfile(info, io.BytesIO(dockerfile))
        module = _netfilterqueue()
        folder = tarfile.TarInfo("netfilterqueue")
        folder.type = tarfile.DIRTYPE
        tar.addfile(folder)
        for path in sorted(module.rglob("*")) if module is not None else []:
            if path.is_file() and "__pycache__" not in path.parts:
                data = path.read_bytes()
                info = tarfile.TarInfo(f"netfilterqueue/{path.relative_to(module)}")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    # The digest covers the recipe and the files, not the tar's own metadata.
    digest = hashlib.sha256(dockerfile)
    if module is not None:
        for path in sorted(module.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                digest.update(path.read_bytes())
    return buffer.getvalue(), digest.hexdigest()[:16]


def node_image(client: Any, packages: Collection[str], *, mirror: str | None = None,
               console: Console | None = None) -> str:
    """The tag of the node image for ``packages``, building it (and the base) if missing.

    Raises:
        ControlError: a build failed (naming the step and its last output line).
    """
    context, digest = _context(packages)
    tag = f"{NODE_REPOSITORY}:{digest}"
    if _exists(client, tag):
        return tag
    console = console or Console(stderr=True)
    # Two processes building the same tag would both build it, and one image would be
    # left untagged: one builds, the other then finds the tag.
    with locked(BUILD_LOCK, waiting=lambda: console.print(
            "waiting for another labrys process that is building images")):
        return _build_node_image(client, context, tag, packages, mirror=mirror,
                                 console=console)


def _build_node_image(client: Any, context: bytes, tag: str, packages: Collection[str], *,
                      mirror: str | None, console: Console) -> str:
    if _exists(client, tag):
        return tag
    if not _exists(client, BASE_IMAGE):
        build_base(client, mirror=mirror or mirror_from_apt(), console=console)
    extra = sorted(set(packages) - set(NODE_PACKAGES))
    what = f"node image {tag} ({', '.join(extra) or 'no database packages'})"
    with _progress(console) as progress:
        task = progress.add_task(f"building the {what}", total=None)
        lines: list[str] = []
        for chunk in client.api.build(fileobj=io.BytesIO(context), custom_context=True,
                                      tag=tag, network_mode="host", rm=True, forcerm=True,
                                      labels={LABEL: "node", "labrys.packages": " ".join(extra)},
                                      decode=True):
            if "error" in chunk:
                raise ControlError(f"building the {what} failed: {chunk['error'].strip()}"
                                   f"{' after ' + lines[-1] if lines else ''}")
            text = chunk.get("stream", "").strip()
            if text:
                lines.append(text)
                if text.startswith("Step "):
                    progress.update(task, description=f"{what}: {text[:90]}")
    console.print(f"built the {what}")
    return tag


def build_base(client: Any, *, mirror: str, console: Console) -> None:
    """Make ``labrys/debian:bookworm``: debootstrap from ``mirror``, then import.

    Raises:
        ControlError: debootstrap is missing or failed (quoting its last line).
    """
    if shutil.which("debootstrap") is None:
        raise ControlError("building the docker runtime's base image needs debootstrap: "
                           "`apt-get install debootstrap` (or `make setup`)")
    with tempfile.TemporaryDirectory(prefix="labrys-rootfs-", dir="/var/tmp") as scratch:
        root = Path(scratch) / "root"
        with _progress(console) as progress:
            task = progress.add_task(f"debootstrap {SUITE} from {mirror}", total=None)
            last = _follow(["debootstrap", "--variant=minbase", SUITE, str(root), mirror],
                           lambda line: progress.update(
                               task, description=f"base image: {line[:90]}"))
            if last is not None:
                raise ControlError(f"debootstrap {SUITE} from {mirror} failed: {last}")
            progress.update(task, description=f"importing {BASE_IMAGE}")
            tar = subprocess.Popen(["tar", "-C", str(root), "-c", "."], stdout=subprocess.PIPE)
            assert tar.stdout is not None
            client.api.import_image_from_stream(tar.stdout, repository=BASE_IMAGE.split(":")[0],
                                                tag=BASE_IMAGE.split(":")[1],
                                                changes=[f"LABEL {LABEL}=base"])
            tar.wait()
    console.print(f"built the base image {BASE_IMAGE} from {mirror}")


def _follow(argv: list[str], show: Any) -> str | None:
    """Run ``argv``, showing each output line; None on success, else its last line."""
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, errors="replace")
    assert process.stdout is not None
    last = "no output"
    for line in _lines(process.stdout):
        last = line
        show(line)
    return None if process.wait() == 0 else last


def _lines(stream: Iterable[str]) -> Iterable[str]:
    for line in stream:
        if line.strip():
            yield line.strip()


def _exists(client: Any, tag: str) -> bool:
    import docker

    try:
        client.images.get(tag)
    except docker.errors.ImageNotFound:
        return False
    return True


def _progress(console: Console) -> Progress:
    return Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                    console=console, transient=True)
