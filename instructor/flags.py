"""Lines of a submission that reach for the grading machinery, for a person to look at.

Grading judges outside the kernel (instructor/judge.py), so such a line earns no
point by itself; but it says what its author tried, and a local grading does
not keep the grader's files out of the student's reach. No points are taken
for what is found here (a person decides), but every such line is named with
its cell:

- importing the checks or the grader (``vaekit.checks``, ``instructor``, ``grading_probe``, ``judge``,
  ``nbval``, ``pytest``);
- touching ``sys.modules``, ``builtins`` or ``__builtins__``;
- assigning, setting or deleting an attribute of an imported module or of
  anything imported (``torch.allclose = ...``, ``setattr(checks, ...)``);
- naming a path outside the submission's folder (absolute, ``~`` or ``../``),
  the grader's files (``/autograder``, ``instructor/``) or the reference notebook;
- using what the assignment's rules forbid (FORBIDDEN: a library's density or
  sampler), which the rules in helpers.py and the student README list.

Only the student's own lines count: a line that the handed-out version of the
same cell (or of helpers.py) holds is given code. The lines are read with
Python's ``ast``, not run; a cell that does not parse is flagged as such.
"""
import ast
import re

GRADING_MODULES = {"checks", "grading_probe", "judge", "instructor", "nbval", "pytest", "_pytest"}
HIDDEN_MODULES = {"builtins", "__builtins__"}
SUSPECT_PATH = re.compile(r"^(/|~|\.\./)|/autograder|(^|/)(instructor|tools)/|reference\.ipynb")
MUTATORS = {"setattr", "delattr"}
# What the assignment forbids, as code names it (a module, or the name of a function or method) and as
# the rules handed to students name it (helpers.py's docstring, the student README).
FORBIDDEN = {"torch.distributions": "torch.distributions", "scipy.stats": "scipy.stats",
             "numpy.random": "numpy.random", "binary_cross_entropy": "F.binary_cross_entropy",
             "binary_cross_entropy_with_logits": "F.binary_cross_entropy_with_logits",
             "BCELoss": "nn.BCELoss", "BCEWithLogitsLoss": "nn.BCEWithLogitsLoss",
             "gaussian_nll_loss": "F.gaussian_nll_loss", "GaussianNLLLoss": "nn.GaussianNLLLoss",
             "kl_div": "F.kl_div", "KLDivLoss": "nn.KLDivLoss",
             "bernoulli": "torch.bernoulli", "bernoulli_": ".bernoulli_()",
             "normal": "torch.normal", "normal_": ".normal_()", "uniform_": ".uniform_()",
             "multinomial": "torch.multinomial", "poisson": "torch.poisson"}
FORBIDDEN_MODULES = tuple(name for name in FORBIDDEN if "." in name)
# The kinds of flag, as a class report counts them.
FORBIDDEN_USE, GRADING, CHANGES_IMPORT, PATH, UNPARSED = (
    "uses a forbidden library", "reaches for the grading", "changes what it imported",
    "names a path outside its folder", "does not parse")
FORBIDDEN_NAMES = {name for name in FORBIDDEN if "." not in name}


def code_lines(source):
    """The source with IPython's magics and shell lines (%, !) blanked, so that ast can read it."""
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.split("\n"))


def imported_names(tree):
    """The names bound by import statements in tree: {name: the module it came from}."""
    names = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                names[alias.asname or alias.name.split(".")[0]] = alias.name
        elif isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return names


def base_name(node):
    """The name an attribute chain starts from (torch for torch.nn.functional.softplus), or None."""
    while isinstance(node, ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def assigned(targets):
    """The attributes that assignment targets rebind: a.b = ..., a.__dict__[k] = ..., and in tuples.

    An item of a mapping that an attribute holds (plt.rcParams["figure.dpi"] = ...) is a setting, not
    a replaced attribute.
    """
    for target in targets:
        if isinstance(target, (ast.Tuple, ast.List)):
            yield from assigned(target.elts)
        elif isinstance(target, ast.Starred):
            yield from assigned([target.value])
        elif isinstance(target, ast.Attribute):
            yield target
        elif (isinstance(target, ast.Subscript) and isinstance(target.value, ast.Attribute)
              and target.value.attr == "__dict__"):
            yield target.value


def dotted(node, imported):
    """The dotted name of an attribute chain, its first name as imported (np.random.normal ->
    numpy.random.normal), or None if it does not start from a name."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    return ".".join([imported.get(node.id, node.id), *reversed(parts)])


def forbidden(name):
    """What the rules call name (a dotted name) if they forbid it, else None."""
    for module in FORBIDDEN_MODULES:
        if name == module or name.startswith(module + "."):
            return FORBIDDEN[module]
    last = name.split(".")[-1]
    return FORBIDDEN[last] if last in FORBIDDEN_NAMES else None


def findings(tree, imported):
    """[(line number, kinds, why)] for one parsed cell, a line once (kinds: sorted, each one of the kinds above);
    imported: the names bound by imports anywhere."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            # from vaekit import checks imports vaekit.checks: each name is a module or comes from one
            modules = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                       else [f"{node.module}.{alias.name}" for alias in node.names if node.module])
            for module in modules:
                top = module.split(".")[0]
                if forbidden(module):
                    found.append((node.lineno, FORBIDDEN_USE,
                                  f"imports {forbidden(module)}, which the assignment forbids"))
                if GRADING_MODULES & set(module.split(".")):
                    found.append((node.lineno, GRADING, f"imports {module}, part of the grading"))
                elif top in HIDDEN_MODULES:
                    found.append((node.lineno, GRADING, f"imports {module}"))
        elif isinstance(node, ast.Attribute):
            if isinstance(node.value, ast.Name) and node.value.id == "sys" and node.attr == "modules":
                found.append((node.lineno, GRADING, "uses sys.modules"))
            rule = forbidden(dotted(node, imported) or node.attr)
            if rule:
                found.append((node.lineno, FORBIDDEN_USE, f"uses {rule}, which the assignment forbids"))
        elif isinstance(node, ast.Name) and node.id in HIDDEN_MODULES:
            found.append((node.lineno, GRADING, f"uses {node.id}"))
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete)):
            targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target]
            for target in assigned(targets):
                if base_name(target) in imported:
                    found.append((node.lineno, CHANGES_IMPORT, f"changes {ast.unparse(target)}, an attribute of "
                                                               f"the imported {imported[base_name(target)]}"))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in MUTATORS:
            if node.args and base_name(node.args[0]) in imported:
                found.append((node.lineno, CHANGES_IMPORT, f"calls {node.func.id} on {ast.unparse(node.args[0])}, "
                                                           f"imported from {imported[base_name(node.args[0])]}"))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and SUSPECT_PATH.search(node.value):
            found.append((node.lineno, PATH, f"names the path {node.value!r}, outside its folder or the grader's"))
    reasons = {}
    for line, kind, why in sorted(set(found)):
        reasons.setdefault(line, []).append((kind, why))
    return [(line, sorted({kind for kind, _ in found}), "; ".join(why for _, why in found))
            for line, found in reasons.items()]


def parse(source):
    """(tree, None), or (None, the SyntaxError) for code that does not parse."""
    try:
        return ast.parse(code_lines(source)), None
    except SyntaxError as err:
        return None, err


def own_lines(source, given):
    """{line number: the line, stripped} of source's lines that are the student's own: not blank, and not
    held by given, the handed-out version of the same cell or file ("" for a cell the student added)."""
    given_lines = {line.strip() for line in given.split("\n")}
    return {number: line.strip() for number, line in enumerate(source.split("\n"), start=1)
            if line.strip() and line.strip() not in given_lines}


def flag_sources(sources):
    """Flags for a submission's code.

    sources: [(where, source, given)]: where names the cell ("cell 'elbo'", "helpers.py"), given is
             the handed-out source of the same cell ("" for a cell the student added)
    returns [{"where", "line", "code", "why", "kinds"}], in the order of sources (kinds: see findings)
    """
    parsed = [(where, source, given, *parse(source)) for where, source, given in sources]
    imported = {}
    for *_, tree, _ in parsed:
        if tree is not None:
            imported.update(imported_names(tree))
    flags = []
    for where, source, given, tree, error in parsed:
        if tree is None:
            flags.append({"where": where, "line": error.lineno or 0, "code": "",
                          "why": "does not parse as Python, so it could not be read for flags", "kinds": [UNPARSED]})
            continue
        own = own_lines(source, given)
        for number, kinds, why in findings(tree, imported):
            if number in own:
                flags.append({"where": where, "line": number, "code": own[number], "why": why, "kinds": kinds})
    return flags


def describe(flag):
    """One flag in one line: where, the line itself, and why."""
    return f"{flag['where']}, line {flag['line']}: {flag['code']}  ({flag['why']})"


def report_lines(flags):
    return [f"flag  {describe(flag)}" for flag in flags]
