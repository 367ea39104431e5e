"""The package's shape: imports go down the stages only, no module imports itself round a
circle, and one module opens exports for reading.

Stages, lowest first (a module may import its own stage or a lower one, never a higher one):

    base            dcgan_tf/*.py: config, recipes, atomic, locks, contract, images, ...
    data            reading datasets
    metrics         FID/KID/precision-recall and their feature spaces (training logs KID)
    training        networks, the GAN, checkpoints, train()
    export          a run's checkpoint -> a TF Serving SavedModel
    serving         reading an export (export_reader) and calling it (clients)
    probe           the linear-SVM read-out of D's features
    scoring         an export's sample quality
    investigations  the paper's section 6
    explore         the interactive app over the investigations and the serving clients
    cli             the commands: the cli/ folder, installed as the package dcgan_tf_cli

Function-local imports count: they are dependencies too.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STAGES = ("base", "data", "metrics", "training", "export", "serving", "probe", "scoring",
          "investigations", "explore", "cli")


def _modules():
    """`{module name: path}` of every module of dcgan_tf/ and cli/ (installed as dcgan_tf_cli)."""
    found = {}
    for folder, package in (("dcgan_tf", "dcgan_tf"), ("cli", "dcgan_tf_cli")):
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = [package, *path.relative_to(ROOT / folder).with_suffix("").parts]
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


MODULES = _modules()


def _stage(module):
    parts = module.split(".")
    if parts[0] == "dcgan_tf_cli":
        return STAGES.index("cli")
    if len(parts) > 1 and parts[1] in STAGES and (ROOT / "dcgan_tf" / parts[1]).is_dir():
        return STAGES.index(parts[1])
    return STAGES.index("base")


def _imports(module):
    """`[(imported module, line)]` of one module: every import statement, at any depth."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                child = f"{node.module}.{alias.name}"
                found.append((child if child in MODULES else node.module, node.lineno))
    return [(name, line) for name, line in found
            if name.split(".")[0] in ("dcgan_tf", "dcgan_tf_cli", "cli")]


def _graph():
    return {m: sorted({name for name, _ in _imports(m) if name in MODULES and name != m})
            for m in MODULES}


def test_stages_are_what_the_tree_holds():
    packages = {p.name for p in (ROOT / "dcgan_tf").iterdir()
                if p.is_dir() and (p / "__init__.py").is_file()}
    assert packages == set(STAGES) - {"base", "cli"}


def test_imports_only_go_down_the_stages():
    upward = [f"{m}:{line} imports {name} ({STAGES[_stage(name)]} above {STAGES[_stage(m)]})"
              for m in MODULES for name, line in _imports(m)
              if m != "dcgan_tf" and _stage(name) > _stage(m)]
    assert upward == [], "\n".join(upward)


def _cycles(graph):
    """Every strongly connected component with more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for child in graph.get(node, ()):
            if child not in index:
                visit(child)
                low[node] = min(low[node], low[child])
            elif child in on_stack:
                low[node] = min(low[node], index[child])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycles():
    # dcgan_tf/__init__.py names its lazy attributes as strings, so it is no edge here.
    assert _cycles(_graph()) == []


def test_the_cycle_finder_finds_cycles():
    assert _cycles({"a": ["b"], "b": ["c"], "c": ["a"], "d": ["a"]}) == [["a", "b", "c"]]
    assert _cycles({"a": ["b"], "b": []}) == []


def _saved_model_loads(module):
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    return [node.lineno for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr == "load" and isinstance(node.func.value, ast.Attribute)
            and node.func.value.attr == "saved_model"]


def test_only_the_export_reader_loads_exports():
    loading = {m: lines for m in MODULES if (lines := _saved_model_loads(m))}
    assert set(loading) == {"dcgan_tf.serving.export_reader"}, loading


# Optional extras (`pip install -e ".[portable]"`, `".[explore]"`) and the modules that import
# them at their top: the core install lacks them, so the library imports them where used.
OPTIONAL = {"gradio", "gradio_client", "onnxruntime", "onnx", "tf2onnx", "ai_edge_litert",
            "dcgan_tf.export.onnx", "dcgan_tf.explore.app"}


def _optional(node):
    names = ([a.name for a in node.names] if isinstance(node, ast.Import)
             else [node.module] + [f"{node.module}.{a.name}" for a in node.names])
    return any(n in OPTIONAL or n.split(".")[0] in OPTIONAL for n in names if n)


def test_the_library_imports_at_module_top():
    """Only cli/ defers imports (TensorFlow, for a fast --help); in the library a dependency is
    visible at the top of the module, except the optional extras' (`OPTIONAL`). A try/except
    import (NumPy 1 and 2 names) is allowed."""
    deferred = []
    for module, path in MODULES.items():
        if not module.startswith("dcgan_tf."):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for function in ast.walk(tree):
            if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            guarded = {id(n) for t in ast.walk(function) if isinstance(t, ast.Try)
                       for n in ast.walk(t)}
            deferred += [f"{module}:{n.lineno}" for n in ast.walk(function)
                         if isinstance(n, (ast.Import, ast.ImportFrom)) and id(n) not in guarded
                         and not _optional(n)]
    assert deferred == [], deferred
