"""focalcls as a package a user's own code imports."""

import subprocess
import sys

from conftest import REPO


def test_a_users_code_imports_the_loss_and_the_loader_from_the_package():
    code = (
        "import sys, focalcls; assert 'torch' not in sys.modules; "
        "from focalcls import focal_loss, load_trained_classifier, load_config; "
        "print(focal_loss.__module__, load_trained_classifier.__module__, load_config('config/config.yaml')['model'])"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert done.stdout.split()[:2] == ["focalcls.train.losses", "focalcls.train.model"]


def test_the_workflow_uses_its_own_checkouts_library_whatever_else_is_installed(tmp_path):
    """Another clone's focalcls first on the path (an editable install of it, or PYTHONPATH): the rules
    import this checkout's, as its jobs do, so one run never mixes two versions."""
    import os

    other = tmp_path / "other-clone" / "focalcls"
    other.mkdir(parents=True)
    (other / "__init__.py").write_text("raise ImportError('the focalcls of another clone')\n")
    env = {**os.environ, "PYTHONPATH": str(other.parent)}
    config = tmp_path / "config.yaml"
    config.write_text("data: {raw: rows.xlsx}\n")
    (tmp_path / "rows.xlsx").touch()
    argv = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-n", "--cores", "1"]
    done = subprocess.run([*argv, "--configfile", str(config)], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert "another clone" not in done.stderr and done.returncode == 0, done.stderr[-2000:]


LAYERS = ["core", "config", "devices", "data", "train", "evaluate", "deploy", "report", "env"]


def library_imports() -> dict[str, set[str]]:
    """Each library module's imports of other library modules (type-checking ones too), by full name."""
    import ast

    package = REPO / "workflow/scripts"
    modules = {".".join(p.relative_to(package).with_suffix("").parts) for p in (package / "focalcls").rglob("*.py")}
    graph = {}
    for name in modules:
        path = package / (name.replace(".", "/") + ".py")
        found = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("focalcls"):
                found |= {f"{node.module}.{a.name}" for a in node.names} | {node.module}
            elif isinstance(node, ast.Import):
                found |= {a.name for a in node.names}
        graph[name] = (found & modules) - {name}
    return graph


def test_the_library_imports_only_downwards_and_in_no_circle():
    """Layers: core < config < devices < data < train < evaluate < deploy < report < env; a module imports
    its own layer or lower ones, and following imports never comes back to where it started."""
    graph = library_imports()
    layer = {name: LAYERS.index(name.split(".")[1]) for name in graph if name.count(".") == 2}
    upwards = [(a, b) for a, deps in graph.items() for b in deps if a in layer and b in layer and layer[b] > layer[a]]
    assert upwards == []

    def reaches(start: str, goal: str, seen: set) -> bool:
        return any(d == goal or (d not in seen and not seen.add(d) and reaches(d, goal, seen)) for d in graph[start])

    assert [name for name in graph if reaches(name, name, set())] == []
    assert len(layer) > 50 and set(n.split(".")[1] for n in layer) == set(LAYERS)  # the check saw the whole library
