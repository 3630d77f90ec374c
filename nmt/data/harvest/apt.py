"""A private APT: its own sources, lists and cache, so indexes (Contents, Translation-de/en) and
binary packages can be fetched without touching the system's APT state or installing anything.

The image's APT sets ``Acquire::Languages "none"`` and fetches no Contents index; the private
configuration asks for both. Packages are fetched with ``apt-get download`` and unpacked with
``dpkg-deb --fsys-tarfile``, keeping only the members a reader needs.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tarfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from tqdm import tqdm

DEBIAN_SOURCES = (
    "deb http://deb.debian.org/debian bookworm main",
    "deb http://deb.debian.org/debian bookworm-updates main",
    "deb http://deb.debian.org/debian-security bookworm-security main",
)
# Package descriptions are also read from the neighbouring releases (more translated ones).
DESCRIPTION_SOURCES = tuple(f"deb http://deb.debian.org/debian {suite} main"
                            for suite in ("bookworm", "trixie", "bullseye"))

_CONFIG = """\
Dir::State "{root}/state";
Dir::State::status "/var/lib/dpkg/status";
Dir::Cache "{root}/cache";
Dir::Etc::SourceList "{root}/etc/sources.list";
Dir::Etc::SourceParts "{root}/etc/none";
Dir::Etc::Parts "{root}/etc/none";
Acquire::Languages {{ "de"; "en"; }};
"""

_CONTENTS = """\
Acquire::IndexTargets::deb::Contents-deb {
  MetaKey "$(COMPONENT)/Contents-$(ARCHITECTURE)";
  ShortDescription "Contents-$(ARCHITECTURE)";
  Description "$(RELEASE)/$(COMPONENT) $(ARCHITECTURE) Contents (deb)";
  KeepCompressed "true";
};
"""


class PrivateApt:
    """APT rooted at ``root`` (``etc/``, ``state/``, ``cache/`` below it) reading ``sources``,
    with Translation-de/en indexes and, when ``contents``, the Contents indexes."""

    def __init__(self, root: Path, sources: Iterable[str] = DEBIAN_SOURCES,
                 contents: bool = True):
        self.root = Path(root).resolve()
        for folder in ("etc/none", "state/lists/partial", "cache/archives/partial"):
            (self.root / folder).mkdir(parents=True, exist_ok=True)
        (self.root / "etc/sources.list").write_text("".join(line + "\n" for line in sources))
        self.config = self.root / "etc/apt.conf"
        self.config.write_text(_CONFIG.format(root=self.root) + (_CONTENTS if contents else ""))

    def _run(self, *command: str, cwd: Path | None = None, check: bool = True,
             ) -> subprocess.CompletedProcess:
        if shutil.which(command[0]) is None and not Path(command[0]).is_file():
            raise FileNotFoundError(
                f"{command[0]} not found: the harvest needs Debian's APT tools.")
        env = dict(os.environ, APT_CONFIG=str(self.config), LC_ALL="C.UTF-8")
        return subprocess.run(command, cwd=cwd, env=env, check=check, text=True,
                              capture_output=True)

    def update(self, force: bool = False) -> None:
        """Fetch the indexes (Packages, Translation-de/en, Contents) unless already present."""
        if force or not self.index_files("Packages"):
            self._run("apt-get", "update", "-q")

    def index_files(self, identifier: str) -> list[Path]:
        """Local files of the index targets named ``identifier`` (``Contents-deb``,
        ``Translations``, ``Packages``) that exist."""
        result = self._run("apt-get", "indextargets", "--format", "$(FILENAME)",
                           f"Identifier: {identifier}", check=False)
        found = []
        for name in result.stdout.split():
            matches = sorted(Path(name).parent.glob(Path(name).name + "*"))
            found += [match for match in matches if not match.name.endswith(".diff")][:1]
        return found

    def translation_files(self, language: str) -> list[Path]:
        """The Translation-``language`` indexes fetched for the sources."""
        return [path for path in self.index_files("Translations")
                if re.search(rf"_Translation-{language}(\.|$)", path.name)]

    def lines(self, path: Path) -> Iterator[str]:
        """Lines of an index file, decompressed by APT's own helper (lz4, xz, gz, plain)."""
        env = dict(os.environ, APT_CONFIG=str(self.config))
        with subprocess.Popen(["/usr/lib/apt/apt-helper", "cat-file", str(path)], env=env,
                              stdout=subprocess.PIPE, text=True, encoding="utf-8",
                              errors="replace") as process:
            assert process.stdout is not None
            yield from process.stdout

    def show(self, packages: list[str]) -> str:
        """``apt-cache show`` of the candidate version of each package (unknown ones skipped)."""
        return self._run("apt-cache", "show", "--no-all-versions", *packages, check=False).stdout

    def download(self, specs: list[str], dest: Path, chunk: int = 40) -> list[str]:
        """``apt-get download`` each ``name=version`` into ``dest`` unless a ``name_*.deb`` is
        already there; returns the specs that failed."""
        dest.mkdir(parents=True, exist_ok=True)
        todo = [spec for spec in specs if not deb_path(dest, spec.split("=")[0])]
        failed = []
        with tqdm(total=len(todo), desc="apt-get download", unit=" packages") as bar:
            for start in range(0, len(todo), chunk):
                batch = todo[start:start + chunk]
                if self._run("apt-get", "download", "-q", *batch, cwd=dest, check=False).returncode:
                    for spec in batch:  # one at a time to find which one failed
                        if (not deb_path(dest, spec.split("=")[0])
                                and self._run("apt-get", "download", "-q", spec, cwd=dest,
                                              check=False).returncode):
                            failed.append(spec)
                bar.update(len(batch))
        return failed


def deb_path(folder: Path, package: str) -> Path | None:
    """The downloaded ``.deb`` of ``package`` in ``folder``, or None."""
    matches = sorted(folder.glob(f"{package}_*.deb"))
    return matches[0] if matches else None


def extract_members(deb: Path, dest: Path, wanted: Callable[[str], bool],
                    signature: str = "") -> int:
    """Unpack the regular files of ``deb`` whose path (no leading ``./``) ``wanted`` accepts
    into ``dest``, as ``dpkg-deb -x`` would, and mark ``dest`` done; returns the file count.

    A ``dest`` already marked done with the same ``signature`` (what ``wanted`` keeps) is left
    as it is: the harvest resumes where it stopped, and unpacks again when ``wanted`` changed.
    """
    marker = dest / ".extracted"
    if marker.is_file():
        count, _, done_with = marker.read_text().partition("\n")
        if done_with == signature:
            return int(count or 0)
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    count = 0
    with subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(deb)],
                          stdout=subprocess.PIPE) as process:
        with tarfile.open(fileobj=process.stdout, mode="r|") as archive:
            for member in archive:
                name = member.name.removeprefix("./")
                if member.isfile() and wanted(name):
                    target = dest / name
                    target.parent.mkdir(parents=True, exist_ok=True)
                    source = archive.extractfile(member)
                    assert source is not None
                    target.write_bytes(source.read())
                    count += 1
    if process.returncode:
        raise ValueError(f"dpkg-deb could not unpack {deb}; delete it and run the harvest again.")
    marker.write_text(f"{count}\n{signature}")
    return count
