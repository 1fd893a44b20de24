"""Every module imports on its own, the light layers never load torch, and no two modules import each other."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# The spec and complexity layers (and what they build on) import only the standard library.
LIGHT = ("netspace.errors", "netspace.registry", "netspace.cost", "netspace.spec_base", "netspace.spec_cells",
         "netspace.spec", "netspace.blocks", "netspace.blocks.base", "netspace.blocks.vanilla",
         "netspace.blocks.res_basic", "netspace.blocks.res_bottleneck", "netspace.blocks.mbconv",
         "netspace.blocks.conv", "netspace.complexity_cells", "netspace.complexity")
NUMPY_ONLY = ("netspace.spaces", "netspace.zoo")


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted((ROOT / "netspace").rglob("*.py"))}


def _python(code: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, (str(ROOT), os.environ.get("PYTHONPATH"))))}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=600)


def test_every_module_imports_on_its_own():
    # One interpreter; before each module every netspace module is dropped from sys.modules, so each is
    # imported as if first (third-party packages such as torch stay loaded, which keeps this fast).
    script = f"""
import importlib, json, sys
failures = {{}}
for name in {sorted(MODULES)!r}:
    for loaded in [m for m in sys.modules if m == "netspace" or m.startswith("netspace.")]:
        del sys.modules[loaded]
    try:
        importlib.import_module(name)
    except Exception as e:
        failures[name] = f"{{type(e).__name__}}: {{e}}"
print(json.dumps(failures))
"""
    done = _python(script)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) == {}


def test_light_modules_import_alone_without_torch():
    # The spec and complexity layers load neither torch nor numpy; spaces and the zoo may use numpy.
    checks = [(name, ("torch", "numpy")) for name in LIGHT] + [(name, ("torch",)) for name in NUMPY_ONLY]
    for name, forbidden in checks:
        assert name in MODULES
        done = _python(f"import sys, {name}; print(sorted(m for m in {forbidden!r} if m in sys.modules))")
        assert done.returncode == 0, f"{name}: {done.stderr}"
        assert done.stdout.strip() == "[]", f"{name} loads {done.stdout.strip()}"


def _imports(name: str, path: Path) -> set[str]:
    """The netspace modules ``name`` imports anywhere (module level and inside functions), not under TYPE_CHECKING."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                for stmt in child.orelse:
                    visit(stmt)
                continue
            if isinstance(child, ast.Import):
                found.update(a.name for a in child.names if a.name in MODULES)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    pkg = package
                    for _ in range(child.level - 1):
                        pkg = pkg.rpartition(".")[0]
                    base = f"{pkg}.{base}" if base else pkg
                for a in child.names:  # ``from pkg import submodule`` imports the submodule
                    target = f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base
                    if target in MODULES:
                        found.add(target)
            visit(child)

    visit(ast.parse(path.read_text()))
    found.discard(name)
    return found


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    out.append(sorted(component))
    return out


def test_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_circles_even_through_imports_inside_functions():
    # Imports inside functions count too: a circle "broken" by a function-level import is still a circle.
    graph = {name: _imports(name, path) for name, path in MODULES.items()}
    assert {"netspace.spec_cells", "netspace.blocks"} <= graph["netspace.spec"]  # the parser sees the edges
    assert _cycles(graph) == []


def test_import_netspace_is_light_and_every_exported_name_resolves():
    # ``import netspace`` loads neither torch nor pandas (PEP 562 lazy exports); each name imports its module.
    done = _python("import sys, netspace; print(sorted(m for m in ('torch', 'pandas', 'numpy') if m in sys.modules))")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
    script = """
import json, netspace
from netspace import zoo
spec = zoo.get("ResNet-50")
print(json.dumps({"missing": [n for n in netspace.__all__ if getattr(netspace, n, None) is None],
                  "cx": netspace.complexity(spec), "names": zoo.names()[:1], "in_dir": sorted(dir(netspace))}))
"""
    done = _python(script)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.splitlines()[-1])
    assert out["missing"] == []
    assert out["cx"] == {"flops": 4089185256, "params": 25557032, "acts": 11315688}
    assert out["names"] == ["RegNetX-200MF"]
    for name in ("build", "complexity", "zoo", "sample_population", "train_trial", "TrialConfig", "trial_config",
                 "run_sweep", "sweep_config", "run_search", "search_config", "run_study", "StudyConfig", "load",
                 "write_report", "measure", "__version__"):
        assert name in out["in_dir"]


def test_lazy_exports_are_the_api_objects():
    import netspace
    from netspace.latency import measure
    from netspace.models import build
    from netspace.run import run_sweep
    from netspace.run.frame import load

    from netspace.zoo import get

    assert (netspace.build, netspace.measure, netspace.run_sweep, netspace.load) == (build, measure, run_sweep, load)
    # the complexity module (imported first here, by the zoo) is callable as its function
    assert netspace.complexity(get("ResNet-20")) == netspace.complexity.complexity(get("ResNet-20"))
    with pytest.raises(AttributeError):
        netspace.no_such_name  # noqa: B018
