"""PEP 517 build backend of gowsgi, standard library only.

build_wheel runs `make build` (the Makefile's choice of a static or
shared libpython, its header checks) with PYTHON set to the interpreter
running the build, which is the one pip installs for, and packs a wheel
for that CPython only (tag cpXY-cpXY-PLATFORM):

    gowsgi-V.data/scripts/gowsgi   the binary; pip puts it in the env's bin/
    gowsgi/__init__.py, __main__.py  python -m gowsgi execs that binary
    gowsgi-V.dist-info/             METADATA, WHEEL, RECORD (PEP 427)

A missing tool stops the build with one line saying what to install.
"""
import base64
import hashlib
import io
import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
import tomllib
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _project():
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        return tomllib.load(f)["project"]


def _metadata():
    p = _project()
    lines = ["Metadata-Version: 2.1", "Name: " + p["name"], "Version: " + p["version"],
             "Summary: " + p["description"], "License: MIT",
             "Requires-Python: " + p["requires-python"]]
    return ("\n".join(lines) + "\n").encode()


def _tag():
    """cp313-cp313-linux_x86_64: the binary embeds this CPython's ABI
    (t: free-threaded) and runs on this platform only."""
    py = "cp%d%d" % sys.version_info[:2]
    abi = py + ("t" if sysconfig.get_config_var("Py_GIL_DISABLED") else "")
    plat = sysconfig.get_platform().replace("-", "_").replace(".", "_")
    return "%s-%s-%s" % (py, abi, plat)


def _need(tool, what):
    if shutil.which(tool) is None:
        raise SystemExit("gowsgi: building gowsgi needs %s (%s not found on PATH)" % (what, tool))


def _make(target, env, **kw):
    return subprocess.run(["make", "-C", ROOT, "--no-print-directory", target,
                           "PYTHON=" + sys.executable, *("%s=%s" % kv for kv in kw.items())],
                          env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _build_binary(out):
    """Builds gowsgi for sys.executable into out, or exits with what is
    missing."""
    _need("go", "Go 1.26 or later: https://go.dev/dl/ or apt-get install golang-go")
    _need("make", "make: apt-get install make")
    _need("pkg-config", "pkg-config: apt-get install pkg-config")
    cc = subprocess.run(["go", "env", "CC"], capture_output=True, text=True).stdout.strip() or "gcc"
    _need(cc.split()[0], "a C compiler for cgo: apt-get install gcc")
    # An outer make's jobserver (pip run from a Makefile) is not ours.
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    check = _make("check-python", env)
    if check.returncode != 0:  # its last line says which headers to install
        raise SystemExit(check.stdout.strip().splitlines()[-1])
    build = _make("build", env, BIN=out, GOWSGI_VERSION=_project()["version"])
    if build.returncode != 0:
        raise SystemExit("gowsgi: building gowsgi for %s failed:\n%s" % (sys.executable, build.stdout))
    print(build.stdout, end="", file=sys.stderr)


def _record_line(name, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return "%s,sha256=%s,%d" % (name, digest, len(data))


def _write_dist_info(directory, dist_info):
    os.makedirs(os.path.join(directory, dist_info), exist_ok=True)
    for name, data in _dist_info_files():
        with open(os.path.join(directory, dist_info, name), "wb") as f:
            f.write(data)


def _dist_info_files():
    wheel = "Wheel-Version: 1.0\nGenerator: gowsgi_build\nRoot-Is-Purelib: false\nTag: %s\n" % _tag()
    with open(os.path.join(ROOT, "LICENSE"), "rb") as f:
        return [("METADATA", _metadata()), ("WHEEL", wheel.encode()), ("LICENSE", f.read())]


def _dist_name():
    p = _project()
    return "%s-%s" % (p["name"], p["version"])


# PEP 517 hooks


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    dist_info = _dist_name() + ".dist-info"
    _write_dist_info(metadata_directory, dist_info)
    return dist_info


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    name = _dist_name()
    with tempfile.TemporaryDirectory() as tmp:
        binary = os.path.join(tmp, "gowsgi")
        _build_binary(binary)
        with open(binary, "rb") as f:
            files = [(name + ".data/scripts/gowsgi", f.read(), 0o755)]
    pkg = os.path.join(ROOT, "gowsgi")
    for mod in sorted(os.listdir(pkg)):
        if mod.endswith(".py"):
            with open(os.path.join(pkg, mod), "rb") as f:
                files.append(("gowsgi/" + mod, f.read(), 0o644))
    files += [(name + ".dist-info/" + n, data, 0o644) for n, data in _dist_info_files()]
    record = name + ".dist-info/RECORD"
    lines = [_record_line(n, data) for n, data, _ in files] + [record + ",,"]
    files.append((record, ("\n".join(lines) + "\n").encode(), 0o644))

    filename = "%s-%s.whl" % (name, _tag())
    with zipfile.ZipFile(os.path.join(wheel_directory, filename), "w", zipfile.ZIP_DEFLATED) as z:
        for n, data, mode in files:
            info = zipfile.ZipInfo(n, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = (0o100000 | mode) << 16  # a regular file; pip keeps the x bit
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data)
    return filename


def build_sdist(sdist_directory, config_settings=None):
    """The source tree without what builds and runs leave (bin/, caches,
    .git), plus PKG-INFO."""
    name = _dist_name()
    filename = name + ".tar.gz"
    skip = {".git", "bin", "__pycache__", "results"}
    with tarfile.open(os.path.join(sdist_directory, filename), "w:gz") as tar:
        for top, dirs, files in os.walk(ROOT):
            dirs[:] = sorted(d for d in dirs if d not in skip)
            for f in sorted(f for f in files if f not in skip and not f.endswith(".pyc")):
                path = os.path.join(top, f)
                tar.add(path, arcname=os.path.join(name, os.path.relpath(path, ROOT)), recursive=False)
        info = tarfile.TarInfo(name + "/PKG-INFO")
        data = _metadata()
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return filename
