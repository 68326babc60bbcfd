# gowsgi's Python config reader, run by `gowsgi __gowsgi_pyconfig__ SPEC`
# in a process of its own (the master never runs Python). It executes a
# Gunicorn config file the way Gunicorn does (gunicorn/app/base.py:
# get_config_from_filename, get_config_from_module_name) and writes what
# the file defines to fd 3 as one JSON object:
#
#   {"file": "/abs/gunicorn.conf.py",
#    "names": [{"name": "workers", "line": 3, "value": 5},
#              {"name": "post_fork", "line": 9, "callable": true, "arity": 2}, ...],
#    "environ": {"DJANGO_SETTINGS_MODULE": "mysite.settings"}, "unset": [],
#    "gunicorn": {"SERVER": "hidden"}}
#
# or, when the file cannot be read or raises, {"error": "...", "line": N}
# after printing Gunicorn's "Failed to read config file" and the
# traceback to stderr. The Go side (config/pyfile.go) decides what each
# name means; this script only reports, so there is one settings table.
import ast
import importlib
import importlib.machinery
import importlib.util
import inspect
import json
import os
import sys
import traceback
import types


def load(spec):
    if spec.startswith("python:"):
        mod = importlib.import_module(spec[len("python:"):])
        return vars(mod), getattr(mod, "__file__", None) or ""
    if spec.startswith("file:"):
        spec = spec[len("file:"):]
    path = os.path.abspath(spec)
    if not os.path.exists(path):
        raise FileNotFoundError("%r doesn't exist" % spec)
    name = "__config__"
    loader = None
    if os.path.splitext(path)[1] not in (".py", ".pyc"):
        loader = importlib.machinery.SourceFileLoader(name, path)
    mod_spec = importlib.util.spec_from_file_location(name, path, loader=loader)
    mod = importlib.util.module_from_spec(mod_spec)
    sys.modules[name] = mod
    mod_spec.loader.exec_module(mod)
    return vars(mod), path


def assigned_lines(path):
    """The line of the last top-level binding of each name in path, and
    the names whose last binding is an import."""
    lines, imported = {}, set()
    try:
        with open(path, "rb") as f:
            tree = ast.parse(f.read(), path)
    except (OSError, SyntaxError, ValueError):
        return lines, imported

    def targets(node):
        if isinstance(node, ast.Name):
            yield node.id
        elif isinstance(node, (ast.Tuple, ast.List)):
            for elt in node.elts:
                yield from targets(elt)
        elif isinstance(node, ast.Starred):
            yield from targets(node.value)

    def walk(body):
        for node in body:
            names = []
            if isinstance(node, ast.Assign):
                for t in node.targets:
                    names.extend(targets(t))
            elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
                names.extend(targets(node.target))
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.append(node.name)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                for a in node.names:
                    names.append((a.asname or a.name).split(".")[0])
                imported.update(names)
            elif isinstance(node, (ast.If, ast.Try, ast.With, ast.For, ast.While)):
                for field in ("body", "orelse", "finalbody"):
                    walk(getattr(node, field, []) or [])
                for h in getattr(node, "handlers", []) or []:
                    walk(h.body)
            for n in names:
                lines[n] = node.lineno
                if not isinstance(node, (ast.Import, ast.ImportFrom)):
                    imported.discard(n)

    walk(tree.body)
    return lines, imported


def arity(f):
    # gunicorn.util.get_arity: the positional parameters.
    try:
        sig = inspect.signature(f)
    except (TypeError, ValueError):
        return -1
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return sum(1 for p in sig.parameters.values() if p.kind in kinds)


def encode(v, depth=0):
    """A JSON form of a setting's value. Inside one (a logconfig_dict),
    the standard streams and importable classes and functions become the
    names dictConfig resolves in the worker to the same objects
    ("ext://sys.stdout", "logging.StreamHandler"). What JSON cannot hold
    otherwise is described as {"$py": TYPE, "repr": ...} for the Go
    side's errors."""
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    if depth < 8 and isinstance(v, (list, tuple)):
        return [encode(x, depth + 1) for x in v]
    if depth < 8 and isinstance(v, dict) and all(isinstance(k, str) for k in v):
        return {k: encode(x, depth + 1) for k, x in v.items()}
    if depth > 0:
        name = stream_name(v) or dotted_name(v)
        if name:
            return name
    r = repr(v)
    return {"$py": type(v).__name__, "repr": r if len(r) <= 80 else r[:77] + "..."}


def stream_name(v):
    """dictConfig's name of a standard stream, "" for other objects."""
    for name in ("stdout", "stderr", "__stdout__", "__stderr__"):
        if v is getattr(sys, name, None):
            return "ext://sys." + name.strip("_")
    return ""


def dotted_name(v):
    """The module.qualname a class or function imports back as from
    another process (the worker), "" when it does not: defined in the
    config file itself, in a function, or not found under that name."""
    if not (isinstance(v, type) or inspect.isfunction(v) or inspect.isbuiltin(v)):
        return ""
    mod, qualname = getattr(v, "__module__", None), getattr(v, "__qualname__", "")
    if not mod or mod in ("__config__", "__main__", "builtins") or "<" in qualname:
        return ""
    try:
        obj = importlib.import_module(mod)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except Exception:
        return ""
    return mod + "." + qualname if obj is v else ""


def error_line(exc, path):
    if isinstance(exc, SyntaxError) and exc.filename == path:
        return exc.lineno or 0
    line = 0
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename == path:
            line = frame.lineno
    return line


# The worker classes a project's own may subclass, by module prefix and
# name (uvicorn also matching uvicorn_worker's), with the name gowsgi
# knows each by and its CONFIG_KWARGS, which a subclass's are compared to.
WORKER_BASES = {
    ("uvicorn", "UvicornWorker"): ("uvicorn.workers.UvicornWorker", {"loop": "auto", "http": "auto"}),
    ("uvicorn", "UvicornH11Worker"): ("uvicorn.workers.UvicornH11Worker", {"loop": "asyncio", "http": "h11"}),
    ("gunicorn.workers", "SyncWorker"): ("gunicorn.workers.sync.SyncWorker", None),
    ("gunicorn.workers", "ThreadWorker"): ("gunicorn.workers.gthread.ThreadWorker", None),
    ("gunicorn.workers", "GeventWorker"): ("gunicorn.workers.ggevent.GeventWorker", None),
    ("gunicorn.workers", "EventletWorker"): ("gunicorn.workers.geventlet.EventletWorker", None),
    ("gunicorn.workers", "TornadoWorker"): ("gunicorn.workers.gtornado.TornadoWorker", None),
}


def worker_class(path):
    """What class:PATH asks: the worker class gowsgi knows that the class
    at path subclasses (Gunicorn's load_class finds it: module.Class),
    and for a Uvicorn worker the CONFIG_KWARGS it changed."""
    module, _, name = path.rpartition(".")
    cls = getattr(importlib.import_module(module), name)
    if not isinstance(cls, type):
        raise TypeError("%s is not a class" % path)
    for base in inspect.getmro(cls)[1:]:
        for (prefix, base_name), (known, defaults) in WORKER_BASES.items():
            mod = getattr(base, "__module__", "") or ""
            if base.__name__ == base_name and (mod == prefix or mod.startswith(prefix + ".") or
                                               mod.startswith(prefix + "_worker")):
                item = {"name": "worker_class", "value": known}
                if defaults is not None:
                    kwargs = getattr(cls, "CONFIG_KWARGS", None) or {}
                    item["uvicorn_kwargs"] = {k: encode(v) for k, v in kwargs.items()
                                              if k not in defaults or defaults[k] != v}
                return item
    raise TypeError("%s subclasses none of Gunicorn's or Uvicorn's worker classes" % path)


def main():
    out = os.fdopen(3, "w")
    spec = sys.argv[1]
    # Gunicorn has its start directory first on sys.path when it reads
    # the file (Application.chdir), so the project's modules import.
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    if spec.startswith("class:"):
        try:
            with gunicorn_module():  # gunicornmod.py
                report = {"names": [worker_class(spec[len("class:"):])]}
        except Exception as exc:
            traceback.print_exc()
            sys.stderr.flush()
            report = {"error": traceback.format_exception_only(type(exc), exc)[-1].strip()}
        json.dump(report, out)
        out.flush()
        return 0
    # What the file does to os.environ reaches the workers, as Gunicorn's
    # master, which runs the file, passes its environment on.
    environ_before = dict(os.environ)
    path = ""
    if not spec.startswith("python:"):
        path = os.path.abspath(spec[len("file:"):] if spec.startswith("file:") else spec)
    try:
        with gunicorn_module():  # gunicornmod.py
            ns, path = load(spec)
            gunicorn = gunicorn_changes()
    except Exception as exc:
        sys.stderr.write("Failed to read config file: %s\n" % spec)
        # The traceback starts at the config file (or the module it
        # imports), not in this reader or importlib.
        tb = exc.__traceback__
        while tb is not None and (tb.tb_frame.f_code.co_filename == "<string>"
                                  or tb.tb_frame.f_code.co_filename.startswith("<frozen")):
            tb = tb.tb_next
        traceback.print_exception(type(exc), exc, tb)
        sys.stderr.flush()
        msg = traceback.format_exception_only(type(exc), exc)[-1].strip()
        json.dump({"error": msg, "line": error_line(exc, path)}, out)
        out.flush()  # the traceback's frames keep out alive past the exit, unflushed
        return 1
    lines, imported = assigned_lines(path) if path.endswith(".py") else ({}, set())
    names = []
    for k, v in ns.items():
        if k.startswith("__") or isinstance(v, types.ModuleType):
            continue
        item = {"name": k, "line": lines.get(k, 0)}
        if k in imported:
            item["imported"] = True
        if callable(v) and not isinstance(v, (str, bytes)):
            item["callable"] = True
            item["arity"] = arity(v)
            item["class"] = isinstance(v, type)
            if k == "logger_class":  # the workers import it, or take the file's own again
                item["value"] = dotted_name(v) or "__config__.logger_class"
            elif k == "worker_class":  # as Gunicorn takes a class: found again by its import path
                item["value"] = dotted_name(v)
        else:
            item["value"] = encode(v)
        names.append(item)
    environ = {k: v for k, v in os.environ.items() if environ_before.get(k) != v}
    unset = sorted(k for k in environ_before if k not in os.environ)
    json.dump({"file": path, "names": names, "environ": environ, "unset": unset, "gunicorn": gunicorn}, out)
    out.flush()
    return 0


sys.exit(main())
