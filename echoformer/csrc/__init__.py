"""C++ kernels, compiled at first use through `torch.utils.cpp_extension` and cached.

`svd_kernels()` gives the SVD-softmax CPU kernels (svd_softmax.cpp, registered as
`torch.ops.echoformer_svd`: `preview`, `add_tails`, `nth_largest`, `union_ids`), or None
where they cannot be built (no C++ compiler or ninja, or `ECHOFORMER_CPP_KERNELS=0`);
callers then keep their pure-torch path. The build is tuned to this CPU (-march=native), so
its cache entry is named after the CPU's instruction-set flags and the source's hash: a home
directory shared by several machines gets one build per kind of CPU. Built once per user in
torch's extension cache (`TORCH_EXTENSIONS_DIR`, default ~/.cache/torch_extensions).
"""

from __future__ import annotations

import hashlib
import platform
import os
import shutil
import sys
from functools import cache
from pathlib import Path
from typing import Any

import torch

DISABLE_ENV = "ECHOFORMER_CPP_KERNELS"  # "0": never build or use the C++ kernels
SOURCE_DIR = Path(__file__).resolve().parent


@cache
def svd_kernels() -> Any:
    """The compiled SVD-softmax kernels (an op namespace), or None (one warning says why)."""
    if os.environ.get(DISABLE_ENV, "1") == "0":
        return None
    missing = [tool for tool in ("c++", "ninja") if _find(tool) is None]
    if missing:
        _warn(f"{' and '.join(missing)} not found: SVD-softmax runs its pure-torch path "
              "(install g++ and ninja, e.g. `apt-get install g++ ninja-build` or "
              "`pip install ninja`, for the fused CPU kernels)")
        return None
    try:
        from torch.utils import cpp_extension

        source = SOURCE_DIR / "svd_softmax.cpp"
        # one build per source text and place: checkouts sharing the cache do not rebuild
        # each other's (torch keys a build folder by name only)
        name = f"echoformer_svd_{_cpu_tag()}_{_digest(source.read_bytes() + bytes(source))}"
        built = Path(cpp_extension._get_build_directory(name, False)) / f"{name}.so"
        if not built.exists():
            print("echoformer: compiling the SVD-softmax CPU kernels (once, ~1 min)",
                  file=sys.stderr)
        cpp_extension.load(
            name=name, sources=[str(source)],
            extra_cflags=["-O3", "-march=native", "-fopenmp-simd"], is_python_module=False,
            verbose=False)
        return torch.ops.echoformer_svd
    except Exception as error:  # a failed build only costs speed: say so once and go on
        _warn(f"could not build the SVD-softmax CPU kernels ({type(error).__name__}: "
              f"{str(error).strip().splitlines()[-1] if str(error).strip() else ''}); "
              "SVD-softmax runs its pure-torch path")
        return None


def _find(tool: str) -> str | None:
    if tool == "c++":
        return shutil.which(os.environ.get("CXX", "c++"))
    if tool == "ninja":
        try:
            from torch.utils.cpp_extension import is_ninja_available
            return "ninja" if is_ninja_available() else None
        except ImportError:
            return shutil.which("ninja")
    return shutil.which(tool)


def _cpu_tag() -> str:
    """A short hash of the CPU's flags (Linux), so -march=native builds are not shared."""
    try:
        flags = next((line for line in Path("/proc/cpuinfo").read_text().splitlines()
                      if line.startswith(("flags", "Features"))), "")
    except OSError:
        flags = ""
    return _digest((platform.machine() + flags).encode())


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:10]


def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)
